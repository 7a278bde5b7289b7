#!/usr/bin/env python3
"""A reference LIFT training step in PyTorch on the CPU, for bench/parallel.bench.ts.

The same model the engine trains as `lift` at ViT-B/16 shape: a CLIP vision tower with random
weights (patch 16 at 224 px, 12 pre-LN blocks of width 768, 12 heads, MLP 3072 with quick-GELU,
`pre_layrnorm`, `post_layernorm` on the class token), frozen; one AdaptFormer adapter per block,
parallel to the MLP, `x = x~ + MLP(LN2(x~)) + s * up(ReLU(down(LN_a(x~))))` with r = 4 (LIFT's rule
for C = 100, L = 12); the cosine classifier 25 * cos(W, f) on the class token before the
projection; the logit-adjusted loss CE(z + log n); SGD with momentum 0.9 and weight decay 5e-4.
fp32. Attention through nn.MultiheadAttention, as OpenAI's CLIP (which LIFT builds on) has it;
every block runs on every token.

Prints one JSON line: the fastest and the median training step and forward-only (evaluation)
pass, in seconds and images/s, torch's own matmul rate and the BLAS library it loaded (Debian's
torch goes through libblas.so.3: the reference BLAS unless OpenBLAS is installed, 20x apart).

  /usr/bin/python3 bench/torch-lift.py --threads 2 --batch 8 --steps 3
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Adapter(nn.Module):
    """AdaptFormer as LIFT uses it: LN_a, down to r, ReLU, up, scale s; W_up = 0 at the start."""

    def __init__(self, width, r):
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.down = nn.Linear(width, r)
        self.up = nn.Linear(r, width)
        self.scale = nn.Parameter(torch.ones(()))
        nn.init.normal_(self.down.weight, std=1 / math.sqrt(3 * width))
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x):
        return self.scale * self.up(F.relu(self.down(self.ln(x))))


class Block(nn.Module):
    def __init__(self, width, heads, mlp, r):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), QuickGELU(), nn.Linear(mlp, width))
        self.adapter = Adapter(width, r)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x)) + self.adapter(x)


class LiftVit(nn.Module):
    def __init__(self, image=224, patch=16, width=768, layers=12, heads=12, mlp=3072, classes=100):
        super().__init__()
        r = 2 ** max(0, math.floor(math.log2(classes / (2 * layers))))
        self.conv = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        tokens = (image // patch) ** 2 + 1
        self.class_embedding = nn.Parameter(torch.randn(width) * 0.02)
        self.position = nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads, mlp, r) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.classifier = nn.Parameter(F.normalize(torch.randn(classes, width), dim=1))
        for name, p in self.named_parameters():
            p.requires_grad = ".adapter." in name or name == "classifier"

    def forward(self, images):
        x = self.conv(images).flatten(2).transpose(1, 2)  # [batch, patches, width]
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.position)  # [batch, tokens, width]
        for block in self.blocks:
            x = block(x)
        f = self.ln_post(x[:, 0])
        return 25 * F.normalize(f, dim=1) @ F.normalize(self.classifier, dim=1).t()


def matmul_gflops():
    """torch's own 1024x768x768 float32 matmul rate, best of 5 (the engine bench measures the same product on wasm)."""
    a, b = torch.randn(1024, 768), torch.randn(768, 768)
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(5))
    return 2 * 1024 * 768 * 768 / best / 1e9


def timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def blas_library():
    """The BLAS this process loaded: Debian's torch links libblas.so.3, which update-alternatives points at the
    reference BLAS (libblas3, about 5 GFLOP/s here) or at OpenBLAS (libopenblas0-*) when that is installed."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return sorted(paths)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps after one warm-up step")
    parser.add_argument("--classes", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LiftVit(classes=args.classes)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.01, momentum=0.9, weight_decay=5e-4)
    counts = torch.tensor([max(1, math.floor(500 * 100 ** (-i / 99))) for i in range(args.classes)], dtype=torch.float32)
    adjustment = counts.log()
    images = torch.randn(args.batch, 3, 224, 224)
    labels = torch.arange(args.batch) % args.classes

    def step():
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images) + adjustment, labels)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - started

    def forward():
        started = time.perf_counter()
        with torch.no_grad():
            model(images).argmax(1)
        return time.perf_counter() - started

    model.train()
    step()  # warm-up
    steps = [step() for _ in range(args.steps)]
    forward()
    forwards = [forward() for _ in range(args.steps)]
    print(json.dumps({
        "torch": torch.__version__,
        "blas": blas_library(),
        "matmul_gflops": matmul_gflops(),
        "threads": args.threads,
        "batch": args.batch,
        "trainable": sum(p.numel() for p in trainable),
        "train": {"fastest_s": min(steps), "median_s": statistics.median(steps), "images_per_s": args.batch / min(steps)},
        "forward": {"fastest_s": min(forwards), "median_s": statistics.median(forwards), "images_per_s": args.batch / min(forwards)},
    }))


if __name__ == "__main__":
    main()
