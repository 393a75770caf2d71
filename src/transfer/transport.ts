/**
 * Image locations ({@link ./location.ts}) opened as stores: a registry, a registry directory, an
 * OCI layout, an oci-archive or a docker-archive, for reading or for writing; and whole registries
 * and registry directories ({@link StoreAddress}).
 *
 * @module
 */
import { FerryError } from "../errors.ts";
import { formatLocation, type Location, withReference } from "./location.ts";
import { manifestReference } from "../reference.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import type { RegistryClient } from "../remote/mod.ts";
import type { Store, StoreAddress, Target } from "../store.ts";

// Archive and layout code loads only when a location names one: `registry save` and copies between
// registries never evaluate it (start-up time; see src/cli/start_up_test.ts).
const archives = () => import("../archive/mod.ts");
const layouts = () => import("../oci_layout/mod.ts");

/** An opened location: where to read or write, and what to call the image there. */
export interface Opened {
  store: Store;
  target: Target;
  /**
   * The image as a location string ({@link formatLocation}): for a source the image read, for a
   * destination the image written (with the tag ferry chose when the location named none).
   */
  location: string;
  /** What to resolve when reading (a tag, a digest, `@N`). */
  reference?: string;
  /** The tag to write when this is a destination. */
  tag?: string;
  /** Whether an index with some children missing is acceptable (registry directories). */
  sparseIndexes: boolean;
}

/** Opens a location for reading. */
export async function openSource(loc: Location, client: RegistryClient): Promise<Opened> {
  const located = (reference: string) => formatLocation(withReference(loc, reference));
  switch (loc.transport) {
    case "docker": {
      const store = client.registry(loc.registry);
      const reference = manifestReference(loc);
      return {
        store,
        target: store.repository(loc.repository),
        location: located(reference),
        reference,
        sparseIndexes: false,
      };
    }
    case "registry-dir": {
      const store = await RegistryDir.open(loc.path, { readOnly: true });
      const reference = loc.digest ?? loc.tag ?? "latest";
      return {
        store,
        target: store.repository(loc.repository),
        location: located(reference),
        reference,
        sparseIndexes: true,
      };
    }
    case "oci": {
      const store = await (await layouts()).OciLayout.open(loc.path);
      const target = store.repository("");
      const reference = loc.ref ?? await onlyRef(target, loc.path);
      return { store, target, location: located(reference), reference, sparseIndexes: false };
    }
    case "oci-archive": {
      const store = await (await archives()).OciArchiveReader.open(loc.path);
      const images = await store.images();
      const reference = loc.ref ?? (images.length === 1 ? images[0].descriptor.digest : undefined);
      if (!reference) {
        await store.close();
        throw new FerryError(
          "usage",
          `oci-archive:${loc.path} holds ${images.length} images; name one as oci-archive:FILE:REF`,
        );
      }
      return {
        store,
        target: store.repository(""),
        location: located(reference),
        reference,
        sparseIndexes: false,
      };
    }
    case "docker-archive": {
      const store = await (await archives()).DockerArchiveReader.open(loc.path);
      const reference = loc.ref ?? "@0";
      return {
        store,
        target: store.repository(""),
        location: located(reference),
        reference,
        sparseIndexes: false,
      };
    }
  }
}

async function onlyRef(target: Target, path: string): Promise<string> {
  const tags = await target.tags();
  if (tags.length === 1) return tags[0];
  throw new FerryError(
    "usage",
    `oci:${path} holds ${tags.length} images; name one as oci:PATH:REF`,
  );
}

/** How a destination names the image when its location does not. */
export interface DestinationDefaults {
  /** The tag for a registry or registry directory, and for a store the source names no image of. */
  tag: string;
  /**
   * The image's full name (`docker.io/library/nginx:1.27`), when the source has one: what a
   * layout's ref name or an archive's `RepoTags` carry, so that `ferry load` restores the name
   * (a bare `1.0` would load as the image `docker.io/library/1.0`).
   */
  name?: string;
}

/** Opens a location for writing; `defaults` name the image when the location does not. */
export async function openDestination(
  loc: Location,
  client: RegistryClient,
  defaults: DestinationDefaults,
): Promise<Opened> {
  const defaultTag = defaults.tag;
  switch (loc.transport) {
    case "docker":
    case "registry-dir": {
      if (loc.digest) {
        throw new FerryError("usage", "a destination cannot name a digest; give a tag or none");
      }
      // Only a registry directory accepts an index with some children missing (as Sealos writes).
      const store = loc.transport === "docker"
        ? client.registry(loc.registry)
        : await RegistryDir.open(loc.path);
      const tag = loc.tag ?? defaultTag;
      return {
        store,
        target: store.repository(loc.repository),
        location: formatLocation({ ...loc, tag }),
        tag,
        sparseIndexes: loc.transport === "registry-dir",
      };
    }
    case "oci":
    case "oci-archive": {
      const store = loc.transport === "oci"
        ? await (await layouts()).OciLayout.open(loc.path, { create: true })
        : await (await archives()).ArchiveWriter.create(loc.path, { format: loc.transport });
      const tag = loc.ref ?? defaults.name ?? defaultTag;
      return {
        store,
        target: store.repository(""),
        location: formatLocation({ ...loc, ref: tag }),
        tag,
        sparseIndexes: false,
      };
    }
    case "docker-archive": {
      const store = await (await archives()).ArchiveWriter.create(loc.path, {
        format: loc.transport,
      });
      // docker-archive names images NAME:TAG in manifest.json's RepoTags.
      const name = loc.ref ?? defaults.name ?? `localhost/ferry:${defaultTag}`;
      const colon = name.lastIndexOf(":");
      const repo = colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
      const tag = colon > name.lastIndexOf("/") ? name.slice(colon + 1) : "latest";
      return {
        store,
        target: store.repository(repo),
        location: formatLocation({ ...loc, ref: `${repo}:${tag}` }),
        tag,
        sparseIndexes: false,
      };
    }
  }
}

/**
 * Opens a whole registry (through `client`) or registry directory, as `registry sync` reads and
 * writes them.
 */
export async function openStore(
  address: StoreAddress,
  client: RegistryClient,
  options: { readOnly?: boolean } = {},
): Promise<Store> {
  return address.transport === "docker"
    ? client.registry(address.registry)
    : await RegistryDir.open(address.path, { readOnly: options.readOnly });
}
