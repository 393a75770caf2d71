/**
 * cosign signatures verified offline with public keys: key files (`keys.ts`), the signature
 * image and simple-signing payload format (`simple_signing.ts`), and the check of one image's
 * signatures through any store (`verify.ts`).
 *
 * ```ts
 * import { readPublicKey, verifyImage } from "./mod.ts";
 * const key = await readPublicKey("cosign.pub");
 * const result = await verifyImage(target, await target.resolve("1.0"), { keys: [key] });
 * if (result.verified === 0) console.error(result.reason);
 * ```
 *
 * @module
 */
export * from "./keys.ts";
export * from "./simple_signing.ts";
export * from "./verify.ts";
