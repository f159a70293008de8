import { createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const VERSION = "v1";

/**
 * AES-256-GCM for secrets at rest. The key comes from MAKO_SECRET_KEY (64 hex characters, or
 * a passphrase stretched with scrypt), else from a key file created once under MAKO_HOME.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer, readonly keySource: string) {}

  static forHome(home: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    const fromEnv = env.MAKO_SECRET_KEY;
    if (fromEnv) {
      const key = /^[0-9a-fA-F]{64}$/.test(fromEnv) ? Buffer.from(fromEnv, "hex") : scryptSync(fromEnv, "mako-secret-key", 32);
      return new SecretBox(key, "MAKO_SECRET_KEY");
    }
    const file = join(home, "secret.key");
    if (!existsSync(file)) {
      mkdirSync(home, { recursive: true });
      writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    }
    chmodSync(file, 0o600);
    const hex = readFileSync(file, "utf8").trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`secret key file ${file} is damaged: expected 64 hex characters`);
    return new SecretBox(Buffer.from(hex, "hex"), file);
  }

  /** A secret for one purpose, derived from the key: the same wherever the same key is used. */
  derive(purpose: string): string {
    return createHmac("sha256", this.key).update(`mako:${purpose}`).digest("base64url");
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), body.toString("base64")].join(":");
  }

  decrypt(sealed: string, what: string): string {
    const [version, iv, tag, body] = sealed.split(":");
    if (version !== VERSION || !iv || !tag || body === undefined) throw new Error(`${what} is not in a format Mako can read`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
    } catch {
      throw new Error(`cannot decrypt ${what}: the key (${this.keySource}) is not the one it was stored with`);
    }
  }
}
