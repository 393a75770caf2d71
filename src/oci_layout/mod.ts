/**
 * OCI image layout directories as ferry stores: the format of `skopeo copy oci:DIR:REF`, umoci and
 * buildah, and of ferry's local image store.
 *
 * ```ts
 * const layout = await OciLayout.open("/tmp/images");
 * const repo = layout.repository("localhost/app"); // tag "1.0" = ref name "localhost/app:1.0"
 * const desc = await repo.resolve("1.0");
 * await layout.close();
 * ```
 *
 * @module
 */
export { type GcResult, OciLayout, type OciLayoutOptions, type OciLayoutTarget } from "./layout.ts";
export {
  isRefName,
  REF_NAME_ANNOTATION,
  refNameOf,
  repositoryOfRefName,
  tagOfRefName,
} from "./ref_name.ts";
export { OCI_LAYOUT_CONTENT } from "./index_file.ts";
