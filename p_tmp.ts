import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/clip/backend';
import { EncoderLayer } from './src/clip/encoder';
import { randomClipTensors } from './src/clip/testing';
import { parseClipConfig } from './src/clip/config';
await initBackend();
const config = parseClipConfig({ vision_config: { patch_size: 16, num_hidden_layers: 1 }, text_config: { num_hidden_layers: 1, vocab_size: 100 } });
const raw = randomClipTensors(config, 1);
const table = new Map(Object.entries(raw).map(([k, v]) => [k, { dtype: 'F32' as const, ...v }]));
const layer = new EncoderLayer(table, 'vision_model.encoder.layers.0', { width: 768, intermediate: 3072, heads: 12, eps: 1e-5, activation: 'quick_gelu' }, {});
const batch = 8, tokens = 197;
const x = tf.randomNormal([batch * tokens, 768]) as tf.Tensor2D;
const time = (label: string, flops: number, f: () => tf.Tensor) => {
  tf.tidy(() => f().dataSync());
  const t0 = performance.now(); const n = 2;
  for (let i = 0; i < n; i++) tf.tidy(() => f().dataSync());
  const ms = (performance.now() - t0) / n;
  console.log(label, ms.toFixed(0), 'ms', flops ? (flops / ms / 1e6).toFixed(1) + ' GFLOP/s' : '');
};
const n = batch * tokens;
time('layer fwd', 2 * n * 768 * 768 * 12 + 4 * batch * tokens * tokens * 768, () => { const xt = layer.attend(x, batch, tokens, null); return tf.add(xt, layer.mlp(xt)); });
time('mlp only', 2 * n * 768 * 768 * 8, () => layer.mlp(x));
const a = tf.randomNormal([1024, 768]) as tf.Tensor2D, b = tf.randomNormal([768, 768]) as tf.Tensor2D;
time('matmul 1024x768x768', 2 * 1024 * 768 * 768, () => tf.matMul(a, b));
const qkv = tf.randomNormal([n, 3 * 768]) as tf.Tensor2D;
const { attentionCore } = await import('./src/clip/layers');
time('attention core', 4 * batch * tokens * tokens * 768, () => attentionCore(qkv, { batch, tokens, heads: 12, mask: null }));
// batched alternative
time('attention batched matMul', 4 * batch * tokens * tokens * 768, () => {
  const [q, k, v] = tf.split(qkv, 3, 1);
  const toHeads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [batch, tokens, 12, 64]), [0, 2, 1, 3]).reshape([batch * 12, tokens, 64]) as tf.Tensor3D;
  const s = tf.matMul(toHeads(q), toHeads(k), false, true);
  const p = tf.softmax(s);
  const o = tf.matMul(p, toHeads(v));
  return tf.reshape(tf.transpose(tf.reshape(o, [batch, 12, tokens, 64]), [0, 2, 1, 3]), [n, 768]);
});
const h = tf.randomNormal([n, 3072]) as tf.Tensor2D;
time('quick_gelu 1576x3072', 0, () => tf.mul(h, tf.sigmoid(tf.mul(h, 1.702))));
time('add bias 1576x3072', 0, () => tf.add(h, tf.ones([3072])));
