/**
 * A frozen `[rows, cols]` matrix kept as a grid of blocks of at most 1024×1024, so that
 * `x · M` is several plain matMuls. On wasm, XNNPACK runs a 768×3072 weight at about half
 * the rate of a 768×768 one (measured: 3.2 against 7.0 GFLOP/s), and 768-wide blocks
 * restore the full rate even after the split and concat they need.
 */
import * as tf from '@tensorflow/tfjs';

const MAX_BLOCK = 1024;

/** Splits `length` into the fewest near-equal parts of at most MAX_BLOCK. */
export function blockSizes(length: number): number[] {
  const parts = Math.ceil(length / MAX_BLOCK);
  const base = Math.floor(length / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < length % parts ? 1 : 0));
}

export class BlockedMatrix {
  readonly rowSizes: number[];
  readonly colSizes: number[];
  /** blocks[i][j]: rows of part i, columns of part j. */
  private readonly blocks: tf.Tensor2D[][];

  /** `data` is row-major `[rows, cols]`. */
  constructor(data: Float32Array, rows: number, cols: number) {
    this.rowSizes = blockSizes(rows);
    this.colSizes = blockSizes(cols);
    let rowStart = 0;
    this.blocks = this.rowSizes.map((height) => {
      let colStart = 0;
      const row = this.colSizes.map((width) => {
        const block = new Float32Array(height * width);
        for (let r = 0; r < height; r++) block.set(data.subarray((rowStart + r) * cols + colStart, (rowStart + r) * cols + colStart + width), r * width);
        colStart += width;
        return tf.tensor2d(block, [height, width]);
      });
      rowStart += height;
      return row;
    });
  }

  /** The single block when the matrix fits in one, else null. */
  whole(): tf.Tensor2D | null {
    return this.blocks.length === 1 && this.blocks[0]!.length === 1 ? this.blocks[0]![0]! : null;
  }

  /** The whole matrix as one new tensor `[rows, cols]` (the caller owns it). */
  assemble(): tf.Tensor2D {
    return tf.tidy(() => tf.concat(this.blocks.map((row) => (row.length === 1 ? row[0]! : tf.concat(row, 1))), 0));
  }

  /**
   * `x · M` for x `[n, rows]` → `[n, cols]`; `bias` (one per column block) is fused into
   * the first product of each column block.
   */
  multiply(x: tf.Tensor2D, bias: tf.Tensor1D[] | null = null): tf.Tensor2D {
    const inputs = this.rowSizes.length === 1 ? [x] : (tf.split(x, this.rowSizes, 1) as tf.Tensor2D[]); // [n, rowSizes[i]] each
    const columns = this.colSizes.map((_, j) => {
      const products = inputs.map((input, i) =>
        i === 0 && bias ? (tf.fused.matMul({ a: input, b: this.blocks[i]![j]!, bias: bias[j]! }) as tf.Tensor2D) : tf.matMul<tf.Tensor2D>(input, this.blocks[i]![j]!),
      );
      return products.length === 1 ? products[0]! : (tf.addN(products) as tf.Tensor2D); // [n, colSizes[j]]
    });
    return columns.length === 1 ? columns[0]! : tf.concat(columns, 1); // [n, cols]
  }

  dispose(): void {
    for (const row of this.blocks) for (const block of row) block.dispose();
  }
}
