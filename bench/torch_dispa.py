#!/usr/bin/env python3
"""PyTorch reference implementation of DiSPA, used only as a benchmark yardstick.

What and why: bench/RESULTS.md compares dispa's C++/CUDA training step and inference against
"the PyTorch original". This file is that original, written the way the authors' PyTorch code
would be (nn.Linear / nn.LayerNorm / nn.BatchNorm1d, F.softmax, matmul; no fused kernels),
following ../shared/fixtures/dispa_ref/README.md step by step. Parameter names are the state-dict
names of that README, so the fixtures' weights.safetensors loads with load_state_dict.

Modes:
  check  proves the yardstick computes the same model: for both attention variants it loads the
         fixture weights and inputs and compares the eval outputs and the training-mode loss,
         prediction and every gradient (dropout p=0, BatchNorm batch statistics, MSE loss).
           python3 bench/torch_dispa.py check --fixtures ../shared/fixtures/dispa_ref
  time   paper configuration at the GDSC2 shapes on synthetic data kept on the device; times
         (a) a training step: gather a random batch of (cell, drug) pairs + forward (dropout on)
             + MSE + backward + Adam step, and (b) an eval forward under no_grad (the batch is
             gathered outside the timed region). Prints one JSON line per measurement.
           python3 bench/torch_dispa.py time --device cuda [--batch 512] [--steps 50]
               [--warmup 10] [--tf32] [--compile] [--attention differential|vanilla] [--json OUT]
  screen batch inference over every cell x drug pair of the synthetic GDSC2-sized screen (580 x 170 =
         98,600 pairs, cell-major, batches of --batch 1024 as dispa predict): each batch gathers its
         pairs' rows and runs the model under no_grad, as a PyTorch user scores a screen.
           python3 bench/torch_dispa.py screen --device cpu [--batch 1024] [--reps 1] [--json OUT]
Needs only torch, safetensors and numpy. fp32 with TF32 off unless --tf32.
"""
import argparse, json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAPER = dict(embed_dim=192, ffn_hidden=512, ffn_dropout=0.5, attn_dim=192, heads=4, depth=1,
             head_dims=[256, 64, 32], head_dropout=0.1, genes=706, pathways=112,
             max_genes_per_pathway=114, drug_dim=1043, max_substructures=17,
             masked_score=-1e20, head_residual_every=2)


class FFN(nn.Module):
    """fc2(dropout(relu(LayerNorm(fc1(x)))))"""
    def __init__(self, d_in, hidden, d_out, dropout):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, d_out)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.norm(self.fc1(x)))))


def rms_norm(x, weight, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


class CrossAttention(nn.Module):
    """Multi-head cross-attention, differential (DIFF Transformer) or vanilla, no biases."""
    def __init__(self, embed_dim, attn_dim, heads, depth, differential, masked_score=-1e20):
        super().__init__()
        self.heads, self.differential, self.masked_score = heads, differential, masked_score
        self.q_proj = nn.Linear(embed_dim, attn_dim, bias=False)
        self.k_proj = nn.Linear(embed_dim, attn_dim, bias=False)
        self.v_proj = nn.Linear(embed_dim, attn_dim, bias=False)
        self.out_proj = nn.Linear(attn_dim, embed_dim, bias=False)
        if differential:
            self.hd = attn_dim // (2 * heads)
            self.lambda_init = 0.8 - 0.6 * math.exp(-0.3 * depth)
            for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
                setattr(self, n, nn.Parameter(torch.randn(self.hd) * 0.1))
            self.subln = nn.Module()
            self.subln.weight = nn.Parameter(torch.ones(2 * self.hd))
        else:
            self.hd = attn_dim // heads
            self.subln = nn.Module()
            self.subln.weight = nn.Parameter(torch.ones(self.hd))

    def forward(self, q, kv, mask=None):
        """q [B,Nq,E], kv [B,Nk,E], mask [B,Nk] (1 valid) -> out [B,Nq,E], attn [B,H,Nq,Nk]"""
        B, Nq, _ = q.shape
        Nk, H, hd = kv.shape[1], self.heads, self.hd
        scale = hd ** -0.5
        if self.differential:
            Q = self.q_proj(q).view(B, Nq, H, 2, hd).permute(0, 2, 3, 1, 4)  # [B,H,2,Nq,hd]
            K = self.k_proj(kv).view(B, Nk, H, 2, hd).permute(0, 2, 3, 1, 4)  # [B,H,2,Nk,hd]
            V = self.v_proj(kv).view(B, Nk, H, 2 * hd).transpose(1, 2)        # [B,H,Nk,2hd]
            scores = torch.matmul(Q, K.transpose(-1, -2)) * scale            # [B,H,2,Nq,Nk]
            if mask is not None:
                scores = scores.masked_fill(mask[:, None, None, None, :] == 0, self.masked_score)
            A = F.softmax(scores, dim=-1)
            lam = (torch.exp(torch.sum(self.lambda_q1 * self.lambda_k1))
                   - torch.exp(torch.sum(self.lambda_q2 * self.lambda_k2)) + self.lambda_init)
            attn = A[:, :, 0] - lam * A[:, :, 1]                              # [B,H,Nq,Nk]
            O = rms_norm(torch.matmul(attn, V), self.subln.weight) * (1 - self.lambda_init)
        else:
            Q = self.q_proj(q).view(B, Nq, H, hd).transpose(1, 2)
            K = self.k_proj(kv).view(B, Nk, H, hd).transpose(1, 2)
            V = self.v_proj(kv).view(B, Nk, H, hd).transpose(1, 2)
            scores = torch.matmul(Q, K.transpose(-1, -2)) * scale            # [B,H,Nq,Nk]
            if mask is not None:
                scores = scores.masked_fill(mask[:, None, None, :] == 0, self.masked_score)
            attn = F.softmax(scores, dim=-1)
            O = rms_norm(torch.matmul(attn, V), self.subln.weight)
        O = O.transpose(1, 2).reshape(B, Nq, -1)                              # heads concatenated
        return self.out_proj(O), attn


class HeadBlock(nn.Module):
    def __init__(self, d_in, d_out, dropout):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(F.gelu(self.bn(self.linear(x))))


class Head(nn.Module):
    def __init__(self, d_in, dims, dropout, residual_every=2):
        super().__init__()
        self.residual_every = residual_every
        self.blocks = nn.ModuleList()
        for d in dims:
            self.blocks.append(HeadBlock(d_in, d, dropout))
            d_in = d
        self.out = nn.Linear(d_in, 1)

    def forward(self, x):
        for i, block in enumerate(self.blocks, start=1):
            y = block(x)
            if i % self.residual_every == 0 and y.shape[-1] == x.shape[-1]:
                y = y + x
            x = y
        return self.out(x).squeeze(-1)


class DiSPA(nn.Module):
    def __init__(self, cfg, pathway_gene_indices):
        super().__init__()
        E, h, p = cfg["embed_dim"], cfg["ffn_hidden"], cfg["ffn_dropout"]
        P, S, Dd = cfg["pathways"], cfg["max_genes_per_pathway"], cfg["drug_dim"]
        diff = cfg["attention"] == "differential"
        self.register_buffer("pathway_gene_indices", pathway_gene_indices, persistent=False)
        self.gene_ffn = FFN(S, h, E, p)
        self.slab_norm = nn.LayerNorm((P, E))
        self.sub_ffn = FFN(Dd, h, E, p)
        self.drug_ffn = FFN(Dd, h, E, p)
        args = (E, cfg["attn_dim"], cfg["heads"], cfg["depth"], diff, cfg.get("masked_score", -1e20))
        self.path2sub = CrossAttention(*args)
        self.drug2path = CrossAttention(*args)
        self.head = Head(3 * E, cfg["head_dims"], cfg["head_dropout"], cfg.get("head_residual_every", 2))

    def forward(self, expression, drug, substructures, mask):
        idx = self.pathway_gene_indices                                      # [P,S], -1 = padding
        genes = expression[:, idx.clamp(min=0)] * (idx >= 0).to(expression.dtype)  # [B,P,S]
        tokens = self.slab_norm(self.gene_ffn(genes))                        # [B,P,E]
        subs = self.sub_ffn(substructures) * mask[..., None]                 # [B,L,E]
        d = self.drug_ffn(drug)[:, None, :]                                  # [B,1,E]
        view1, a_p2s = self.path2sub(tokens, subs, mask)                     # [B,P,E]
        view2, a_d2p = self.drug2path(d, tokens)                             # [B,1,E]
        z = torch.cat([view1.mean(1), view2[:, 0], subs.mean(1)], dim=-1)   # mean over L keeps padding
        pred = self.head(z)
        return pred, dict(path2sub_attention=a_p2s, drug2path_attention=a_d2p, pathway_tokens=tokens)


# ------------------------------------------------------------------------------------------- check
def compare(rows, name, got, ref, rtol, atol):
    if got.numel() != ref.numel():
        rows.append((f"{name} (shape {tuple(got.shape)} vs {tuple(ref.shape)})", math.inf, math.inf, False))
        return
    got, ref = got.detach().float().cpu().reshape(ref.shape), ref.float()
    err = (got - ref).abs()
    ok = bool((err <= atol + rtol * ref.abs()).all())
    rel = (err / ref.abs().clamp_min(atol)).max().item()
    rows.append((name, err.max().item(), rel, ok))


def check(args):
    from safetensors.torch import load_file
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    all_ok = True
    for variant in ("differential", "vanilla"):
        root = os.path.join(args.fixtures, variant)
        cfg = json.load(open(os.path.join(root, "config.json")))
        inp = load_file(os.path.join(root, "inputs.safetensors"))
        weights = load_file(os.path.join(root, "weights.safetensors"))
        ref_eval = load_file(os.path.join(root, "outputs_eval.safetensors"))
        ref_train = load_file(os.path.join(root, "grads_train.safetensors"))
        dev = torch.device(args.device)
        inp = {k: v.to(dev) for k, v in inp.items()}
        model = DiSPA(cfg, inp["pathway_gene_indices"]).to(dev)
        model.load_state_dict(weights, strict=True)
        x = (inp["expression"], inp["drug"], inp["substructures"], inp["mask"])
        rows = []
        model.eval()
        with torch.no_grad():
            pred, aux = model(*x)
        compare(rows, "eval prediction", pred, ref_eval["prediction"], 1e-4, 1e-5)
        for k in ("path2sub_attention", "drug2path_attention", "pathway_tokens"):
            compare(rows, "eval " + k, aux[k], ref_eval[k], 1e-4, 1e-5)
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        pred, _ = model(*x)
        loss = F.mse_loss(pred, inp["target"])
        loss.backward()
        compare(rows, "train loss", loss, ref_train["loss"], 1e-3, 1e-6)
        compare(rows, "train prediction", pred, ref_train["prediction"], 1e-3, 1e-6)
        params = dict(model.named_parameters())
        grad_names = [k[5:] for k in ref_train if k.startswith("grad.")]
        missing = sorted(set(params) ^ set(grad_names))
        for n in grad_names:
            if n not in params:
                continue
            ref, got = ref_train["grad." + n], params[n].grad
            if ref.abs().max() < 1e-5:
                # A Linear bias feeding a training-mode BatchNorm has an exactly zero gradient (the
                # batch mean cancels it): both sides hold float32 noise, so bound it absolutely.
                compare(rows, "grad." + n + " (~0)", got, torch.zeros_like(ref), 0.0, 1e-5)
            else:
                compare(rows, "grad." + n, got, ref, 1e-3, 1e-6)
        print(f"\n== {variant} ==")
        print(f"{'tensor':45s} {'max abs err':>12s} {'max rel err':>12s}  result")
        for name, ae, re_, ok in rows:
            print(f"{name:45s} {ae:12.3e} {re_:12.3e}  {'ok' if ok else 'MISMATCH'}")
        if missing:
            print("parameters without a reference gradient or vice versa:", missing)
        bad = sum(not r[3] for r in rows) + len(missing)
        print(f"{variant}: {len(rows) - sum(not r[3] for r in rows)}/{len(rows)} ok")
        all_ok &= bad == 0
    print("\nALL OK" if all_ok else "\nMISMATCH")
    return 0 if all_ok else 1


# -------------------------------------------------------------------------------------------- time
def synthetic(cfg, device, n_cells=580, n_drugs=170, seed=0):
    g = torch.Generator().manual_seed(seed)
    G, P, S, Dd, L = (cfg[k] for k in ("genes", "pathways", "max_genes_per_pathway", "drug_dim",
                                       "max_substructures"))
    idx = torch.full((P, S), -1, dtype=torch.long)
    # GDSC2's statistics (dispa bench-step's synthetic_dataset draws the same way): pathway 0 has S
    # genes, the others 5 + floor(Exp(mean 11.5)) up to S (GDSC2: 112 KEGG sets, 1,897 genes in all),
    # distinct gene ids, padded with -1; 1..10 valid fragments per drug (GDSC2: mean 5.5 of L = 17).
    for p in range(P):
        n = S if p == 0 else min(S, 5 + int(torch.empty(1).exponential_(1 / 11.5, generator=g)))
        idx[p, :n] = torch.randperm(G, generator=g)[:n]
    expr = torch.randn(n_cells, G, generator=g)
    drug = (torch.rand(n_drugs, Dd, generator=g) < 0.1).float()
    n_valid = torch.randint(1, min(10, L) + 1, (n_drugs,), generator=g)
    mask = (torch.arange(L)[None, :] < n_valid[:, None]).float()
    subs = (torch.rand(n_drugs, L, Dd, generator=g) < 0.05).float() * mask[..., None]
    target = torch.randn(n_cells, n_drugs, generator=g)
    return idx.to(device), [t.to(device) for t in (expr, drug, subs, mask, target)]


def time_it(fn, steps, warmup, device, cpu_ms=None):
    """Wall ms per call; cpu_ms (a list), if given, gets the process CPU ms per call (all threads),
    as dispa bench-step's median_cpu_ms: on a machine shared with other jobs it moves less."""
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(steps):
        c0 = time.process_time()
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record(); fn(); end.record(); torch.cuda.synchronize()
            ms.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter(); fn(); ms.append((time.perf_counter() - t0) * 1e3)
        if cpu_ms is not None:
            cpu_ms.append((time.process_time() - c0) * 1e3)
    return np.array(ms)


def bench(args):
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(0)
    cfg = dict(PAPER, attention=args.attention)
    idx, (expr, drug, subs, mask, target) = synthetic(cfg, device)
    model = DiSPA(cfg, idx).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-4)
    run_model, compiled, note = model, False, None
    if args.compile:
        try:
            run_model, compiled = torch.compile(model), True
        except Exception as e:  # compile errors may also surface at the first call, see below
            note = f"torch.compile failed: {type(e).__name__}: {e}"
    gen = torch.Generator(device=device).manual_seed(1234)
    B = args.batch

    def batch():
        c = torch.randint(0, expr.shape[0], (B,), generator=gen, device=device)
        d = torch.randint(0, drug.shape[0], (B,), generator=gen, device=device)
        return (expr[c], drug[d], subs[d], mask[d]), target[c, d]

    def train_step():
        x, y = batch()
        pred, _ = run_model(*x)
        loss = F.mse_loss(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    eval_batch = [batch()[0]]

    def eval_forward():
        with torch.no_grad():
            run_model(*eval_batch[0])

    def first_call(fn):  # fall back to eager if compilation fails lazily
        nonlocal run_model, compiled, note
        try:
            fn()
        except Exception as e:
            if not compiled:
                raise
            note = f"torch.compile failed: {type(e).__name__}: {str(e)[:200]}"
            run_model, compiled = model, False
            fn()

    if note:
        print(note, file=sys.stderr)
    lines = []
    for mode, fn, train in (("train_step", train_step, True), ("eval_forward", eval_forward, False)):
        model.train(train)
        first_call(fn)
        cpu_ms = []
        ms = time_it(fn, args.steps, args.warmup, device, cpu_ms)
        rec = {"impl": "pytorch", "torch": torch.__version__,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "mode": mode, "attention": args.attention, "batch": B, "tf32": args.tf32,
               "compile": compiled, "median_ms": round(float(np.median(ms)), 4),
               "p10_ms": round(float(np.percentile(ms, 10)), 4),
               "p90_ms": round(float(np.percentile(ms, 90)), 4),
               "samples_per_s": round(B / (float(np.median(ms)) / 1e3), 1),
               "median_cpu_ms": round(float(np.median(cpu_ms)), 4)}
        if note:
            rec["note"] = note
            print(note, file=sys.stderr)
        print(json.dumps(rec), flush=True)
        lines.append(json.dumps(rec))
    if args.json:
        with open(args.json, "a") as f:
            f.write("\n".join(lines) + "\n")
    return 0


def screen(args):
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.manual_seed(0)
    cfg = dict(PAPER, attention=args.attention)
    idx, (expr, drug, subs, mask, _) = synthetic(cfg, device)
    model = DiSPA(cfg, idx).to(device).eval()
    C, N, B = expr.shape[0], drug.shape[0], args.batch
    cells = torch.arange(C, device=device).repeat_interleave(N)  # cell-major, as dispa predict
    drugs = torch.arange(N, device=device).repeat(C)
    n = cells.numel()

    def run():
        out = torch.empty(n, device=device)
        with torch.no_grad():
            for start in range(0, n, B):
                c, d = cells[start:start + B], drugs[start:start + B]
                out[start:start + B] = model(expr[c], drug[d], subs[d], mask[d])[0]
        return float(out.sum())  # consume the predictions (and synchronise)

    cpu_ms = []
    ms = time_it(run, args.reps, 0, device, cpu_ms)
    rec = {"impl": "pytorch", "torch": torch.__version__,
           "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "mode": "screen", "attention": args.attention, "batch": B, "tf32": args.tf32, "compile": False,
           "pairs": n, "median_ms": round(float(np.median(ms)), 4),
           "p10_ms": round(float(np.percentile(ms, 10)), 4), "p90_ms": round(float(np.percentile(ms, 90)), 4),
           "samples_per_s": round(n / (float(np.median(ms)) / 1e3), 1),
           "median_cpu_ms": round(float(np.median(cpu_ms)), 4)}
    print(json.dumps(rec), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(rec) + "\n")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="parity with the PyTorch fixtures")
    c.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "shared", "fixtures", "dispa_ref"))
    c.add_argument("--device", default="cpu")
    t = sub.add_parser("time", help="time a training step and an eval forward")
    t.add_argument("--device", default="cuda")
    t.add_argument("--batch", type=int, default=512)
    t.add_argument("--steps", type=int, default=50)
    t.add_argument("--warmup", type=int, default=10)
    t.add_argument("--tf32", action="store_true")
    t.add_argument("--compile", action="store_true")
    t.add_argument("--attention", choices=["differential", "vanilla"], default="differential")
    t.add_argument("--json")
    sc = sub.add_parser("screen", help="batch inference over every cell x drug pair")
    sc.add_argument("--device", default="cpu")
    sc.add_argument("--batch", type=int, default=1024)
    sc.add_argument("--reps", type=int, default=1)
    sc.add_argument("--tf32", action="store_true")
    sc.add_argument("--attention", choices=["differential", "vanilla"], default="differential")
    sc.add_argument("--json")
    args = ap.parse_args()
    sys.exit({"check": check, "time": bench, "screen": screen}[args.cmd](args))


if __name__ == "__main__":
    main()
