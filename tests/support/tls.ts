/**
 * A self-signed certificate for 127.0.0.1, made with openssl, for registries served over TLS.
 *
 * @module
 */
import { join } from "node:path";
import { requirePeer } from "./peers.ts";
import { run } from "./process.ts";

/** A certificate and its key, and a directory holding the certificate as `ca.crt` (`--cert-dir`). */
export interface SelfSigned {
  /** PEM certificate path. */
  cert: string;
  /** PEM private key path. */
  key: string;
  /** A directory with only `ca.crt` in it. */
  certDir: string;
  /** The certificate's PEM text. */
  pem: string;
}

/** Makes a one-day self-signed end-entity certificate for 127.0.0.1 in `dir`. */
export async function selfSignedCert(dir: string): Promise<SelfSigned> {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await run(requirePeer("openssl"), [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    // An end-entity certificate (rustls refuses a CA certificate as a server's own).
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "extendedKeyUsage=serverAuth",
  ]);
  const certDir = join(dir, "certs");
  await Deno.mkdir(certDir, { recursive: true });
  await Deno.copyFile(cert, join(certDir, "ca.crt"));
  return { cert, key, certDir, pem: await Deno.readTextFile(cert) };
}
