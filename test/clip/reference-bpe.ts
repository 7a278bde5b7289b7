/**
 * A small, independent re-implementation of OpenAI's SimpleTokenizer (clip/simple_tokenizer.py):
 * the classic "merge the lowest-ranked pair until none is left" BPE loop, used by the tests as
 * the ground truth for the library-backed tokenizer.
 */
export class ReferenceBpe {
  private readonly ranks = new Map<string, number>();
  private readonly encoder = new Map<string, number>();
  private readonly byteChars: string[] = [];

  constructor(mergesFileText: string) {
    const printable = new Set<number>();
    for (const [from, to] of [[33, 126], [161, 172], [174, 255]] as const) for (let b = from; b <= to; b++) printable.add(b);
    const order = [...printable];
    const chars = new Map<number, string>(order.map((b) => [b, String.fromCharCode(b)]));
    let extra = 0;
    for (let b = 0; b < 256; b++) if (!printable.has(b)) { chars.set(b, String.fromCharCode(256 + extra++)); order.push(b); }
    for (let b = 0; b < 256; b++) this.byteChars.push(chars.get(b)!);
    const merges = mergesFileText.split('\n').slice(1, 49152 - 256 - 2 + 1).map((line) => line.split(' ') as [string, string]);
    const vocab = [...order.map((b) => chars.get(b)!), ...order.map((b) => `${chars.get(b)!}</w>`), ...merges.map(([a, b]) => a + b), '<|startoftext|>', '<|endoftext|>'];
    vocab.forEach((token, id) => this.encoder.set(token, id));
    merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));
  }

  private bpe(token: string): string[] {
    let word = [...token];
    word[word.length - 1] += '</w>';
    for (;;) {
      let best: number | null = null;
      let bestIndex = -1;
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && (best === null || rank < best)) {
          best = rank;
          bestIndex = i;
        }
      }
      if (best === null) return word;
      const [first, second] = [word[bestIndex]!, word[bestIndex + 1]!];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else merged.push(word[i]!);
      }
      word = merged;
    }
  }

  /** Ids without start/end tokens, as SimpleTokenizer.encode returns them. */
  encode(text: string): number[] {
    const clean = text.replace(/\s+/g, ' ').trim().toLowerCase();
    const pattern = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/gu;
    const ids: number[] = [];
    for (const match of clean.match(pattern) ?? []) {
      const symbols = [...new TextEncoder().encode(match)].map((b) => this.byteChars[b]!).join('');
      for (const piece of this.bpe(symbols)) ids.push(this.encoder.get(piece)!);
    }
    return ids;
  }
}
