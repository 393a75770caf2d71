/**
 * The least a Deno program does to serve blobs out of a registry directory: `Deno.serve`, open the
 * blob's `data` file, answer with the file's own stream, as ferry's server does for a blob `GET`
 * (no repository links checked, no manifests, nothing else). Its cost is what the runtime charges
 * for serving these bytes.
 *
 * Usage: `deno run -A bench/serve/floor.ts ROOT`; prints `Listening on http://127.0.0.1:PORT`,
 * stops on SIGTERM.
 *
 * @module
 */

const BLOB_RE = /^\/v2\/.+\/blobs\/sha256:([a-f0-9]{64})$/;

/** Serves `GET /v2/` and `GET /v2/<name>/blobs/sha256:<hex>` from the registry directory `root`. */
export function serveFloor(root: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/v2/") return Response.json({});
    const m = BLOB_RE.exec(path);
    if (!m) return new Response(null, { status: 404 });
    const hex = m[1];
    let file: Deno.FsFile;
    try {
      file = await Deno.open(
        `${root}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`,
      );
    } catch {
      return new Response(null, { status: 404 });
    }
    const { size } = await file.stat();
    return new Response(file.readable, {
      headers: { "Content-Length": String(size), "Content-Type": "application/octet-stream" },
    });
  });
}

if (import.meta.main) {
  const server = serveFloor(Deno.args[0]);
  Deno.addSignalListener("SIGTERM", () => void server.shutdown());
  console.log(`Listening on http://127.0.0.1:${server.addr.port}`);
  await server.finished;
}
