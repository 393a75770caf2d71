/**
 * `ferry copy SRC DST`, `ferry registry copy IMAGE REGISTRY` and `ferry registry sync SRC DST`:
 * moving images between registries, registry directories, OCI layouts and archives.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { CopyEngine } from "../copy/mod.ts";
import { FerryError } from "../errors.ts";
import { hostPlatform, parsePlatformList, type Platform } from "../platform.ts";
import { parseReference } from "../reference.ts";
import { RegistryDir } from "../registry_dir/mod.ts";
import type { RegistryClient } from "../remote/mod.ts";
import type { Store } from "../store.ts";
import { copyImage, syncError, syncRegistries, type TransferResult } from "../transfer.ts";
import { parseLocation } from "../transport.ts";
import { registryClient } from "./client.ts";
import { type SyncResult, transferred, type TransferResult as TransferResultJson } from "./json.ts";
import type { Output } from "./output.ts";
import { parseBool, parsePositiveInt } from "./parse.ts";

interface SideOptions {
  srcAuthfile?: string;
  destAuthfile?: string;
  authfile?: string;
  srcCreds?: string;
  destCreds?: string;
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  tlsVerify?: boolean;
  certDir?: string;
}

/** Two clients with credentials kept apart (Sealos issue 4802: destination got source creds). */
async function clients(opts: SideOptions, out: Output): Promise<[RegistryClient, RegistryClient]> {
  const src = await registryClient({
    authfile: opts.srcAuthfile ?? opts.authfile,
    creds: opts.srcCreds,
    tlsVerify: opts.srcTlsVerify ?? opts.tlsVerify,
    certDir: opts.certDir,
  }, out);
  const dst = await registryClient({
    authfile: opts.destAuthfile ?? opts.authfile,
    creds: opts.destCreds,
    tlsVerify: opts.destTlsVerify ?? opts.tlsVerify,
    certDir: opts.certDir,
  }, out);
  return [src, dst];
}

function platformsOf(opts: { platform?: string }): Platform[] {
  return opts.platform ? parsePlatformList(opts.platform) : [hostPlatform()];
}

function withSideOptions<T extends Command<unknown[], Record<string, unknown>>>(cmd: T): T {
  return cmd
    .option(
      "--platform <list>",
      "os/arch[/variant][,…] to copy from multi-platform images (default: this host)",
    )
    .option("--all", "copy every platform (the whole index)")
    .option("--authfile <file>", "credentials file for both sides")
    .option("--src-authfile <file>", "credentials file for the source")
    .option("--dest-authfile <file>", "credentials file for the destination")
    .option("--src-creds <user:password>", "credentials for the source")
    .option("--dest-creds <user:password>", "credentials for the destination")
    .option(
      "--tls-verify <bool>",
      "verify TLS on both sides (false also allows plain HTTP)",
      parseBool,
    )
    .option("--src-tls-verify <bool>", "verify TLS at the source", parseBool)
    .option("--dest-tls-verify <bool>", "verify TLS at the destination", parseBool)
    .option("--cert-dir <dir>", "extra CA certificates (*.crt) to trust")
    .option("--json", "print one JSON event per line") as unknown as T;
}

/** The `result` of one copy. */
function transferResult(result: TransferResult): TransferResultJson {
  return {
    type: "result",
    ...transferred(result.source, result.root, result.images),
    destination: result.destination,
    ...(result.tag !== undefined ? { tag: result.tag } : {}),
  };
}

/** `ferry copy`. */
export function copyCommand(output: (json?: boolean) => Output) {
  return withSideOptions(
    new Command("copy")
      .description(
        "copy an image between registries, registry directories, OCI layouts and archives",
      )
      .argument(
        "<source>",
        "docker://…, registry-dir:PATH:NAME[:TAG], oci:PATH[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF]",
      )
      .argument("<destination>", "same transports as the source"),
  )
    .addHelpText(
      "after",
      `
Examples:
  ferry copy docker://ghcr.io/org/app:1.0 oci-archive:app.tar
  ferry copy --all docker://nginx:1.27 registry-dir:./registry:library/nginx:1.27
  ferry copy oci:./layout:app docker://registry.local:5000/team/app:1.0
  ferry copy docker-archive:app.tar docker://127.0.0.1:5000/app:1.0`,
    )
    .action(async (source, destination, opts) => {
      const o = opts as SideOptions & { platform?: string; all?: boolean; json?: boolean };
      const out = output(o.json);
      const [srcLoc, dstLoc] = [parseLocation(source), parseLocation(destination)];
      const [sourceClient, destinationClient] = await clients(o, out);
      try {
        const result = await copyImage(srcLoc, dstLoc, {
          sourceClient,
          destinationClient,
          platforms: platformsOf(o),
          all: o.all,
          onEvent: (e) => out.transfer(e),
        });
        out.emit(transferResult(result));
        out.info(`Copied ${source} to ${destination} (${result.root.digest})`);
      } finally {
        await sourceClient.close();
        await destinationClient.close();
      }
    });
}

/** Opens a sync side: a registry host or a registry directory. */
async function openSide(text: string, client: RegistryClient, readOnly: boolean): Promise<Store> {
  if (text.startsWith("registry-dir:")) return await RegistryDir.open(text.slice(13), { readOnly });
  if (text.startsWith("docker://")) return client.registry(text.slice(9).replace(/\/+$/, ""));
  if (text.startsWith("/") || text.startsWith(".")) {
    return await RegistryDir.open(text, { readOnly });
  }
  if (/^[a-z0-9.-]+(:\d+)?\/?$/i.test(text)) return client.registry(text.replace(/\/+$/, ""));
  throw new FerryError(
    "usage",
    `${text}: want a registry (HOST[:PORT] or docker://HOST) or a registry directory (a path or registry-dir:PATH)`,
  );
}

/** `ferry registry copy` and `ferry registry sync`. */
export function registryCopyCommands(output: (json?: boolean) => Output) {
  const copy = withSideOptions(
    new Command("copy")
      .description(
        "copy one image into another registry under the same path (Sealos's registry copy)",
      )
      .argument("<image>", "source image, e.g. docker.io/library/nginx:1.27")
      .argument(
        "<registry>",
        "destination registry HOST[:PORT] or registry directory (path or registry-dir:PATH)",
      ),
  )
    .addHelpText(
      "after",
      `
Examples:
  ferry registry copy quay.io/cilium/cilium:v1.15.0 sealos.hub:5000
  ferry registry copy --all nginx:1.27 ./registry`,
    )
    .action(async (image, registry, opts) => {
      const o = opts as SideOptions & { platform?: string; all?: boolean; json?: boolean };
      const out = output(o.json);
      const ref = parseReference(image);
      const [sourceClient, destinationClient] = await clients(o, out);
      const path = `${ref.repository}${ref.tag ? `:${ref.tag}` : ""}`;
      const dest =
        registry.startsWith("/") || registry.startsWith(".") || registry.startsWith("registry-dir:")
          ? `registry-dir:${registry.replace(/^registry-dir:/, "")}:${path}`
          : `docker://${registry.replace(/^docker:\/\//, "").replace(/\/+$/, "")}/${path}`;
      try {
        const result = await copyImage(parseLocation(`docker://${image}`), parseLocation(dest), {
          sourceClient,
          destinationClient,
          platforms: platformsOf(o),
          all: o.all,
          onEvent: (e) => out.transfer(e),
        });
        out.emit(transferResult(result));
        out.info(`Copied ${image} to ${dest.replace(/^docker:\/\//, "")}`);
      } finally {
        await sourceClient.close();
        await destinationClient.close();
      }
    });

  const sync = withSideOptions(
    new Command("sync")
      .description("copy every repository and tag of a registry or registry directory into another")
      .argument("<source>", "registry HOST[:PORT] or registry directory")
      .argument("<destination>", "registry HOST[:PORT] or registry directory"),
  )
    .option("--max-pull-procs <n>", "images copied at once", parsePositiveInt, 5)
    .addHelpText(
      "after",
      `
Examples:
  ferry registry sync ./registry sealos.hub:5000      # serve nothing: push a saved directory
  ferry registry sync registry.local:5000 ./mirror --dest-tls-verify=false`,
    )
    .action(async (source, destination, opts) => {
      const o = opts as SideOptions & {
        platform?: string;
        all?: boolean;
        json?: boolean;
        maxPullProcs: number;
      };
      const out = output(o.json);
      const [sourceClient, destinationClient] = await clients(o, out);
      const src = await openSide(source, sourceClient, true);
      const dst = await openSide(destination, destinationClient, false);
      try {
        const engine = new CopyEngine({ onEvent: (e) => out.transfer(e) });
        const { copied, failed } = await syncRegistries(src, dst, {
          sourceClient,
          destinationClient,
          platforms: platformsOf(o),
          all: o.platform ? o.all : true,
          engine,
          maxParallel: o.maxPullProcs,
          warn: (m) => out.warn(m),
          onImage: (r) =>
            out.transfer({
              type: "image-done",
              source: r.source,
              destination: r.destination,
              digest: r.root.digest,
              mediaType: r.root.mediaType,
            }),
        });
        out.emit<SyncResult>({ type: "result", copied, failed });
        if (failed.length) throw syncError(failed, copied + failed.length);
        out.info(`${copied} image${copied === 1 ? "" : "s"} synced`);
      } finally {
        await src.close();
        await dst.close();
        await sourceClient.close();
        await destinationClient.close();
      }
    });
  return [copy, sync] as const;
}
