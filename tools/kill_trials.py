#!/usr/bin/env python3
"""Kill trials: every long crt command killed with SIGKILL at random moments, then continued, must end where an
uninterrupted run ends, and no file it wrote may be torn.

    tools/kill_trials.py                          # every command, 10 kills each
    tools/kill_trials.py --trials 3 tokenize gpt-train
    tools/kill_trials.py --keep /tmp/kt           # keep the work folder

For each command: one uninterrupted reference run (timed), then per trial a fresh output folder, the command
started and killed with SIGKILL after a random time in [5%, 95%] of the reference's duration, then continued —
with --resume where the command has it and its run exists, else by running the same command again (the demo,
a sweep, tokenize, sample and features train pick up or redo their work by themselves) — until it exits 0.
The final outputs are compared byte for byte with the reference's (the files each command is meant to
reproduce; logs and timings excepted), and every JSON, safetensors and token store under the folder must
parse. Threads are fixed (CRT_THREADS=2), so the runs are deterministic. Sizes are tiny (each reference run
takes seconds to a few minutes on 2 cores); the point is the kill, not the model.
"""
import argparse, glob, gzip, hashlib, json, os, random, shutil, signal, struct, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRT = os.path.join(ROOT, "crt")


def crt(args, env, timeout=1800):
    return subprocess.run([CRT] + args, env=env, capture_output=True, text=True, timeout=timeout)


def must(args, env):
    r = crt(args, env)
    if r.returncode != 0:
        sys.exit(f"kill_trials: `crt {' '.join(args)}` failed:\n{r.stderr[-2000:]}")
    return r


# ---- what each command is, and what it must reproduce ----------------------------------------------------

def latest_checkpoint_files(out):
    ckpts = os.path.join(out, "checkpoints")
    name = open(os.path.join(ckpts, "latest")).read().strip()
    d = os.path.join(ckpts, name)
    return [os.path.relpath(p, out) for p in sorted(glob.glob(os.path.join(d, "*")))]


def points_without_times(out):
    """points.jsonl without wall-clock fields and run paths (everything measured must match)."""
    lines = []
    for line in open(os.path.join(out, "points.jsonl")):
        o = json.loads(line)
        lines.append(json.dumps({k: v for k, v in o.items()
                                 if k != "run_dir" and not any(t in k for t in ("time", "seconds", "wall", "date"))}, sort_keys=True))
    return "\n".join(lines)


class Command:
    def __init__(self, name, run, resume=None, outputs=None, derived=None, out_is_file=False):
        self.name, self.run, self.resume, self.outputs, self.derived, self.out_is_file = name, run, resume, outputs, derived, out_is_file

    def continue_args(self, out):
        if self.resume is not None and os.path.exists(os.path.join(out, "config.json")):
            return self.resume(out)
        return self.run(out)

    def fingerprint(self, out):
        """{relative path: sha256} of the files that must match, plus derived text (e.g. points without times)."""
        files = self.outputs(out)
        fp = {f: hashlib.sha256(open(os.path.join(out, f), "rb").read()).hexdigest() for f in files}
        if self.derived:
            fp["<derived>"] = hashlib.sha256(self.derived(out).encode()).hexdigest()
        return fp


def commands(work, quick):
    tok_ref = os.path.join(work, "prereq", "tokenizer")
    gpt_ref = os.path.join(work, "prereq", "gpt")
    tokens = os.path.join(work, "prereq", "train.tokens")
    val_tokens = os.path.join(work, "prereq", "val.tokens")
    small = os.path.join(work, "prereq", "small-idx")
    plan = os.path.join(work, "prereq", "sweep-tiny.json")
    tok_steps = 24 if quick else 60
    return {
        "tokenizer-train": Command(
            "tokenizer train",
            lambda o: ["tokenizer", "train", "--out", o, "--quiet", "--set", f"steps={tok_steps}", "--set", "checkpoint_every=6",
                       "--set", f"val_every={tok_steps}", "--set", f"image_every={tok_steps}", "--set", "val_images=100"],
            resume=lambda o: ["tokenizer", "train", "--out", o, "--resume", "--quiet"],
            outputs=latest_checkpoint_files),
        "gpt-train": Command(
            "gpt train",
            lambda o: ["gpt", "train", "--tokens", tokens, "--val-tokens", val_tokens, "--out", o, "--preset", "gpt-t1", "--quiet",
                       "--steps", "80", "--set", "checkpoint_every=10", "--set", "val_every=40", "--set", "val_sequences=200"],
            resume=lambda o: ["gpt", "train", "--out", o, "--resume", "--quiet"],
            outputs=latest_checkpoint_files),
        "tokenize": Command(
            "tokenize",
            lambda o: ["tokenize", "--tokenizer", tok_ref, "--split", "validation", "--variants", "original,flip", "--out",
                       os.path.join(o, "val.tokens"), "--quiet"],
            outputs=lambda o: ["val.tokens"]),
        "sample": Command(
            "sample",
            lambda o: ["sample", "--gpt", gpt_ref, "--tokenizer", tok_ref, "--per-class", "12", "--out", o, "--quiet"],
            outputs=lambda o: ["samples.tokens", "grid.png"]),
        "features-train": Command(
            "features train",
            lambda o: ["features", "train", "--data", small, "--quiet"],
            outputs=lambda o: [os.path.relpath(p, o) for p in sorted(glob.glob(os.path.join(o, "cache", "features", "**", "*"), recursive=True))
                               if os.path.isfile(p)]),
        "sweep": Command(
            "sweep",
            lambda o: ["sweep", plan, "--out", o, "--quiet"],
            outputs=lambda o: [],
            derived=points_without_times),
        "demo": Command(
            "demo",
            lambda o: ["demo", "--budget", "0.05", "--out", o, "--quiet"],
            outputs=lambda o: ["summary-baseline.json", "summary-crt.json"]),
    }


def prepare(work, env):
    """The inputs the commands read: a tiny tokenizer run and its tokens, a tiny GPT run, a small IDX folder, a tiny sweep plan."""
    pre = os.path.join(work, "prereq")
    os.makedirs(pre, exist_ok=True)
    print("preparing inputs (a tiny tokenizer, its tokens, a tiny GPT, a small IDX folder, a sweep plan)...", file=sys.stderr)
    tok = os.path.join(pre, "tokenizer")
    must(["tokenizer", "train", "--out", tok, "--quiet", "--set", "steps=20", "--set", "val_every=20", "--set", "val_images=100"], env)
    must(["tokenize", "--tokenizer", tok, "--split", "train", "--variants", "original", "--out", os.path.join(pre, "train.tokens"), "--quiet"], env)
    must(["tokenize", "--tokenizer", tok, "--split", "validation", "--variants", "original", "--out", os.path.join(pre, "val.tokens"), "--quiet"], env)
    must(["gpt", "train", "--tokens", os.path.join(pre, "train.tokens"), "--out", os.path.join(pre, "gpt"), "--preset", "gpt-t1",
          "--steps", "20", "--quiet"], env)
    # a small IDX folder (6,000 + 1,000 Fashion-MNIST images) so a feature net trains in seconds
    src = os.path.join(ROOT, "data", "fashion-mnist")
    small = os.path.join(pre, "small-idx")
    os.makedirs(small, exist_ok=True)
    for prefix, n in (("train", 6000), ("t10k", 1000)):
        for kind, rank, per in (("images", 3, 784), ("labels", 1, 1)):
            raw = gzip.open(os.path.join(src, f"{prefix}-{kind}-idx{rank}-ubyte.gz")).read()
            head = 4 + 4 * rank
            dims = list(struct.unpack(f">{rank}I", raw[4:head]))
            dims[0] = n
            body = raw[head:head + n * per]
            with gzip.open(os.path.join(small, f"{prefix}-{kind}-idx{rank}-ubyte.gz"), "wb") as f:
                f.write(raw[:4] + struct.pack(f">{rank}I", *dims) + body)
    json.dump({
        "description": "kill trials: the sweep machinery at the smallest size",
        "data": "fashion-mnist", "baseline": "baseline", "crt": "crt",
        "tokenizers": [
            {"name": "baseline", "preset": "vq-tiny", "set": {"steps": 12, "crt.lambda_max": 0, "val_every": 12, "checkpoint_every": 6, "image_every": 12, "val_images": 100}},
            {"name": "crt", "preset": "vq-tiny", "set": {"match_baseline_steps": 12, "crt.lambda_max": 1, "val_every": 12, "checkpoint_every": 6, "image_every": 12, "val_images": 100}},
        ],
        "tokenize": {"train_images": 1000, "variants": ["original"]},
        "gpt": {"presets": ["gpt-t1"], "steps": {"first": 10, "last": 40, "count": 3}, "batch_size": 32, "lr": 3e-4, "checkpoint_every": 10},
        "eval": {"val_sequences": 200, "test_images": 200, "samples": 50, "cfg": 1.5, "bootstrap": 100},
    }, open(os.path.join(pre, "sweep-tiny.json"), "w"), indent=1)


def torn_files(out):
    """Files under out that do not parse (JSON, JSON lines, safetensors, token stores); temporary files are listed apart."""
    bad, temps = [], []
    for p in glob.glob(os.path.join(out, "**", "*"), recursive=True):
        if not os.path.isfile(p):
            continue
        name = os.path.basename(p)
        if ".tmp" in name:
            temps.append(os.path.relpath(p, out))
            continue
        try:
            if name.endswith(".json"):
                json.load(open(p))
            elif name.endswith(".jsonl"):
                lines = open(p).read().splitlines()
                for line in lines[:-1]:  # a torn last line of a log is tolerated by its readers
                    if line.strip():
                        json.loads(line)
            elif name.endswith(".safetensors"):
                data = open(p, "rb").read()
                n = struct.unpack("<Q", data[:8])[0]
                header = json.loads(data[8:8 + n])
                end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
                if 8 + n + end != len(data):
                    raise ValueError("size does not match the header")
            elif name.endswith(".tokens"):
                if open(p, "rb").read(8) != b"CRTTOK01":
                    raise ValueError("no signature")
        except Exception as e:  # noqa: BLE001 — any failure to parse is a torn file
            bad.append(f"{os.path.relpath(p, out)} ({e})")
    return bad, temps


def trial(cmd, out, env, kill_after):
    env = dict(env)
    if cmd.name == "features train":
        env["CRT_CACHE"] = os.path.join(out, "cache")
    os.makedirs(out, exist_ok=True)
    p = subprocess.Popen([CRT] + cmd.run(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        p.wait(timeout=kill_after)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        killed = True
    bad_after_kill, _ = torn_files(out)
    for attempt in range(5):
        r = crt(cmd.continue_args(out), env)
        if r.returncode == 0:
            break
    else:
        return False, killed, f"did not complete after the kill: {r.stderr.strip()[-300:]}", bad_after_kill
    return True, killed, None, bad_after_kill


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs="*", help="some of: tokenizer-train gpt-train tokenize sample features-train sweep demo")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="work folder to use and keep (default: a temporary one, removed)")
    ap.add_argument("--quick", action="store_true", help="smaller runs (for the tests)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="crt-kill-")
    env = dict(os.environ, CRT_THREADS="2", CRT_CACHE=os.path.join(work, "cache"))
    must(["--help"], env)  # builds ./crt once, outside any timing
    prepare(work, env)
    table = commands(work, args.quick)
    names = args.commands or list(table)
    rng = random.Random(args.seed)
    rows, failed = [], False
    for name in names:
        cmd = table[name]
        ref = os.path.join(work, "ref", name)
        os.makedirs(ref, exist_ok=True)
        ref_env = dict(env, CRT_CACHE=os.path.join(ref, "cache")) if name == "features-train" else env
        if name == "demo":  # the demo's feature net comes from the shared cache: train it once, outside the timing
            must(["features", "train", "--quiet"], env)
        t0 = time.time()
        must(cmd.run(ref), ref_env)
        duration = time.time() - t0
        expected = cmd.fingerprint(ref)
        if not expected:
            sys.exit(f"kill_trials: the reference {name} run wrote none of the files it is compared by (in {ref})")
        passed, killed_count, notes = 0, 0, []
        for i in range(args.trials):
            out = os.path.join(work, "trials", name, str(i))
            kill_after = rng.uniform(0.05, 0.95) * duration
            ok, killed, why, bad_after_kill = trial(cmd, out, env, kill_after)
            killed_count += killed
            if ok:
                got = cmd.fingerprint(out)
                if got != expected:
                    ok, why = False, "outputs differ from the uninterrupted run: " + ", ".join(k for k in expected if got.get(k) != expected[k])
            bad, temps = torn_files(out)
            if bad or bad_after_kill:
                ok, why = False, f"torn files: {bad_after_kill + bad}"
            passed += ok
            if not ok:
                notes.append(f"trial {i} (kill at {kill_after:.1f} s): {why}")
            if temps:
                notes.append(f"trial {i}: {len(temps)} temporary file(s) left by the killed process ({temps[0]}, ...)")
            print(f"{name} trial {i}: kill at {kill_after:.1f} s of {duration:.1f} s -> {'pass' if ok else 'FAIL: ' + str(why)}", file=sys.stderr)
        failed |= passed != args.trials
        rows.append((cmd.name, duration, passed, args.trials, killed_count, notes))
    print(f"\nkill trials, {time.strftime('%Y-%m-%d')}, seed {args.seed}; CRT_THREADS=2\n")
    print("| command | uninterrupted run | passed / tried | killed before finishing | notes |")
    print("|---|---|---|---|---|")
    for name, duration, passed, tried, killed, notes in rows:
        print(f"| crt {name} | {duration:.1f} s | {passed} / {tried} | {killed} | {'; '.join(notes) if notes else ''} |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
