/**
 * ferry's local image store: an OCI image layout at `--root` (default `~/.local/share/ferry`)
 * holding pulled, built, tagged and loaded images under full names (`docker.io/library/nginx:1.27`,
 * `localhost/app:1.0`), readable by skopeo (`oci:ROOT:NAME`) and umoci, safe under concurrent ferry
 * processes.
 *
 * ```ts
 * const store = await ImageStore.open({ root: "/var/lib/ferry" });
 * await pullImage(store, "nginx:1.27", { client, platforms: [hostPlatform()] });
 * await store.tag("nginx:1.27", "web:1");            // → localhost/web:1
 * for (const image of await store.list()) console.log(image.name, image.digest);
 * await saveArchive(store, ["web:1"], "web.tar", { format: "docker-archive" });
 * await store.remove(["web:1"]);
 * await store.close();
 * ```
 *
 * @module
 */
export {
  type ImageDetails,
  ImageStore,
  type ImageStoreOptions,
  type ImageSummary,
  type InspectOptions,
  type RemoveResult,
  type StoredImage,
} from "./store.ts";
export {
  defaultRoot,
  digestPrefix,
  type EnvReader,
  isUnnamed,
  localImageName,
  lookupNames,
  nameOfReference,
  remoteImageName,
} from "./names.ts";
export {
  type ImageConfigSummary,
  type ImageFacts,
  type ImageOverview,
  type LayerInfo,
  overview,
  readImage,
} from "./describe.ts";
export { type RegistryImage, registryImages } from "./registry_scan.ts";
export {
  type ArchivedImage,
  loadArchive,
  type LoadArchiveOptions,
  type LoadedImage,
  pullImage,
  type PullImageOptions,
  type PullResult,
  pushImage,
  type PushImageOptions,
  type PushResult,
  saveArchive,
  type SaveArchiveOptions,
  type SavedArchive,
  type StoreTransferOptions,
} from "./exchange.ts";
