import { describe, expect, it } from "vitest";
import { Sha256 } from "../../worker/domain/sha256.ts";

const utf8 = (s: string) => new TextEncoder().encode(s);
const hexOf = (bytes: ArrayBuffer | Uint8Array) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Deterministic bytes (xorshift), so a failure is reproducible. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("SHA-256 with a resumable state", () => {
  it("matches the FIPS 180-4 / NIST vectors", () => {
    const vectors: [string, string][] = [
      ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
      ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
      ["abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"],
      [
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
      ],
    ];
    for (const [input, hex] of vectors) expect(new Sha256().update(utf8(input)).hex(), JSON.stringify(input)).toBe(hex);
    // One million "a" (the long NIST vector), fed in uneven pieces.
    const s = new Sha256();
    const a = new Uint8Array(1_000_000).fill(0x61);
    for (let at = 0; at < a.length; at += 9_973) s.update(a.subarray(at, at + 9_973));
    expect(s.hex()).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  it("agrees with WebCrypto at every length around the block and padding boundaries", async () => {
    const data = bytes(300, 7);
    for (let n = 0; n <= 300; n++) {
      const want = hexOf(await crypto.subtle.digest("SHA-256", data.subarray(0, n)));
      expect(new Sha256().update(data.subarray(0, n)).hex(), `length ${n}`).toBe(want);
    }
  });

  it("saved mid-stream and restored elsewhere, gives the digest of the whole", async () => {
    const data = bytes(200_003, 42);
    const want = hexOf(await crypto.subtle.digest("SHA-256", data));
    // Cut points inside blocks, on block edges, and pieces smaller than a block.
    const cuts = [0, 1, 63, 64, 65, 127, 1000, 4096, 4097, 50_000, 50_001, 123_457, 200_000, 200_003];
    let state = new Sha256().save();
    for (let k = 1; k < cuts.length; k++) {
      const s = Sha256.restore(state);
      s.update(data.subarray(cuts[k - 1], cuts[k]));
      expect(s.length).toBe(cuts[k]);
      state = s.save();
      expect(state.length).toBeLessThan(250);
    }
    expect(Sha256.restore(state).hex()).toBe(want);
    // digest() does not end the hash: one can go on after it.
    const s = new Sha256().update(data.subarray(0, 1000));
    s.digest();
    s.update(data.subarray(1000));
    expect(s.hex()).toBe(want);
  });

  it("refuses a state that is not one it saved", () => {
    expect(() => Sha256.restore("")).toThrow(/not a saved SHA-256 state/);
    expect(() => Sha256.restore("sha256/1:3:" + "0".repeat(64) + ":")).toThrow(/disagree/);
    expect(() => Sha256.restore("sha256/1:1:" + "0".repeat(63) + ":ab")).toThrow(/not a saved/);
  });
});
