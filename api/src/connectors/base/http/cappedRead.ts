/**
 * A stream's bytes, read up to `limit`: null as soon as they pass it, so a large body is never
 * buffered whole. What is left is cancelled (a response nobody will read), or only released for
 * its owner to drain or drop (a request the server still answers).
 */
export async function readUpTo(body: ReadableStream<Uint8Array>, limit: number, whenOver: "cancel" | "release"): Promise<Buffer | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      if (whenOver === "cancel") await reader.cancel().catch(() => {});
      else reader.releaseLock();
      return null;
    }
    chunks.push(value);
  }
}
