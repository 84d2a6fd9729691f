#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the raw outputs of eval/guest-run.sh into results/results.json,
results/report.md, PNG plots (gnuplot) and a table on the terminal.

    eval/report.py LOOPBACK_RAW_DIR WIRE_RAW_DIR1 WIRE_RAW_DIR2 OUT_DIR

Every number comes from a file in the raw directories; a peer whose output
is missing or unparsable is null, and the report says why.
"""
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import time

LAT_SIZES = ["8", "1024", "8192"]
BW_SIZES = ["1024", "8192", "65536"]
RATE_SIZES = ["8", "64"]
DISCS = ["busy", "block"]
DISC_NAMES = {"busy": "busy-polling", "block": "blocking"}
TABLES = {("loopback", "busy"): "loopback", ("wire", "busy"): "wire",
          ("loopback", "block"): "loopback_blocking",
          ("wire", "block"): "wire_blocking"}
PEERS = ["unetmm", "unet_base", "udp", "rxe"]
PEER_NAMES = {
    "unetmm": "U-Net/MM",
    "unet_base": "base-level U-Net",
    "udp": "kernel UDP (sockperf)",
    "rxe": "Soft-RoCE (perftest)",
}
PROCS = [1, 2, 4, 8, 16, 32, 64]
REACH = ["0.25", "0.5", "1", "2", "4", "16"]   # working set / the TLB's reach
# scale's raw-file tag of each translation mode: results.json peer names.
SCALE_PEERS = [("mm", "unetmm"), ("mm_nopin", "unetmm_nopin"), ("base", "unet_base")]
SCALE_NAMES = {"unetmm": "U-Net/MM, pinning TLB", "unetmm_nopin": "U-Net/MM, pin-free TLB",
               "unet_base": "base-level U-Net"}
MIB = 1.048576          # perftest and sockperf report MB as 2^20 bytes

notes = []              # why a value is missing, shown in the report
WIRE_VCPUS = ["?"]      # read from the wire guests' raw outputs


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return None


def tool_json(path):
    text = read(path)
    if text is None:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def missing(what, path):
    text = read(path)
    tail = ""
    if text:
        tail = ": " + " / ".join(l.strip() for l in text.strip().splitlines()[-2:])
    notes.append(f"{what}: no result ({os.path.basename(path)}{tail})")
    return None


def rounds(pattern):
    """The raw files of a figure's rounds (…r1.txt, …r2.txt, …)."""
    return sorted(glob.glob(pattern))


def cmd_line(text):
    m = re.search(r"^# cmd: (.*)$", text or "", re.M)
    return m.group(1) if m else ""


def sockperf_rtt(path):
    """(median, p99, p99.9, observations) of one sockperf ping-pong run."""
    text = read(path)
    if not text:
        return None
    vals = {}
    for pct in ("50.000", "99.000", "99.900"):
        m = re.search(r"percentile " + re.escape(pct) + r" =\s*([\d.]+)", text)
        vals[pct] = float(m.group(1)) if m else None
    n = re.search(r"Total (\d+) observations", text)
    if vals["50.000"] is None:
        return None
    return (vals["50.000"], vals["99.000"], vals["99.900"],
            int(n.group(1)) if n else None)


def sockperf_tput(path):
    """(MB/s, messages/s) that arrived in one sockperf throughput run: the
    sender's rates scaled by the fraction of the datagrams it sent ("Total
    of N messages sent") that the server guest's UDP InDatagrams counted
    (<run>.received, written by guest-run.sh); UDP has no flow control."""
    text = read(path)
    if not text:
        return None
    bw = re.search(r"BandWidth is ([\d.]+) MBps", text)
    rate = re.search(r"Message Rate is (\d+)", text)
    sent = re.search(r"Total of (\d+) messages sent", text)
    if not bw or not rate:
        return None
    frac = 1.0
    got = read(path[:-len(".txt")] + ".received")
    if sent and got and got.strip().isdigit() and int(sent.group(1)) > 0:
        frac = min(1.0, int(got.strip()) / int(sent.group(1)))
    elif sent:
        notes.append(f"UDP {os.path.basename(path)}: no receive count; "
                     "the sender's rate is reported")
    return float(bw.group(1)) * MIB * frac, float(rate.group(1)) * frac


def perftest_lat(path):
    """ib_send_lat reports one-way latency (half the round trip): (median,
    p99, p99.9, iterations) of the round trip."""
    text = read(path)
    if not text:
        return None
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 9 and f[0].isdigit():
            try:
                return (2 * float(f[4]), 2 * float(f[7]), 2 * float(f[8]),
                        int(f[1]))
            except ValueError:
                pass
    return None


def perftest_bw(path):
    """(MB/s, messages/s) of one ib_send_bw run."""
    text = read(path)
    if not text:
        return None
    for line in text.splitlines():
        f = line.split()
        if len(f) == 5 and f[0].isdigit():
            try:
                return float(f[3]) * MIB, float(f[4]) * 1e6
            except ValueError:
                pass
    return None


def unet_ok(j):
    return bool(j) and j.get("errors", 0) == 0 and j.get("mismatches", 0) == 0


def unet_lat(path):
    j = tool_json(path)
    if not unet_ok(j) or not j.get("rtt_us"):
        return None
    r = j["rtt_us"]
    return r["median"], r["p99"], r.get("p99.9"), j.get("iters")


def unet_bw(path):
    j = tool_json(path)
    if not unet_ok(j) or j.get("MBps") is None:
        return None
    if j.get("lost"):
        notes.append(f"{os.path.basename(path)}: {j['lost']} of {j['msgs']} "
                     "messages lost on the way (counted by the NIC); the rate "
                     "is what arrived")
    return j["MBps"], j["msg_rate"]


CHECKS = {"passed": 0, "failed": []}
LOW_SAMPLES = []        # p99s from fewer than 10,000 samples per round
PARAMS_ROUNDS = [None]  # rounds guest-run.sh ran (params.txt)


def check_passed(raw, setup, mode, kind, size, disc):
    """The checked run that precedes a U-Net figure: --check on both sides,
    every byte verified, nothing lost, no error."""
    path = f"{raw}/{setup}-unet_{mode}-{kind}-{size}.{disc}.check.txt"
    j = tool_json(path)
    peer = (j or {}).get("server") or {}
    ok = (unet_ok(j) and j.get("check") is True and not j.get("lost")
          and peer.get("mismatches", 0) == 0 and peer.get("errors", 0) == 0)
    return ok, path


def spread(vals):
    """Median and [min, max] of the rounds' values; None if none."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None
    return statistics.median(vals), [min(vals), max(vals)]


def setup_results(raw, setup, disc):
    keys = ("rtt_us", "rtt_us_range", "rtt_p99_us", "rtt_p99_us_range",
            "rtt_p999_us", "rtt_p999_us_range", "rtt_samples", "rtt_rounds",
            "bw_MBps", "bw_MBps_range", "bw_rounds")
    res = {k: {p: {} for p in PEERS} for k in keys}
    label = f"{setup} ({DISC_NAMES[disc]})"

    def put(kind, peer, s, runs, what, pattern):
        runs = [r for r in runs if r is not None]
        if kind == "rtt":
            med, rng = spread([r[0] for r in runs])
            p99, p99r = spread([r[1] for r in runs])
            p999, p999r = spread([r[2] for r in runs])
            res["rtt_us"][peer][s], res["rtt_us_range"][peer][s] = med, rng
            res["rtt_p99_us"][peer][s], res["rtt_p99_us_range"][peer][s] = p99, p99r
            res["rtt_p999_us"][peer][s], res["rtt_p999_us_range"][peer][s] = p999, p999r
            ns = [r[3] for r in runs if r[3] is not None]
            res["rtt_samples"][peer][s] = min(ns) if ns else None
            res["rtt_rounds"][peer][s] = len(runs)
        else:
            med, rng = spread([r[0] for r in runs])
            res["bw_MBps"][peer][s], res["bw_MBps_range"][peer][s] = med, rng
            res["bw_rounds"][peer][s] = len(runs)
        if kind == "rtt" and runs and res["rtt_samples"][peer][s] is not None \
                and res["rtt_samples"][peer][s] < 10000:
            LOW_SAMPLES.append(f"{label} {PEER_NAMES[peer]} {s} B "
                               f"({res['rtt_samples'][peer][s]})")
        if not runs:
            missing(f"{label} {PEER_NAMES[peer]} {s} B {what}", pattern)
        elif len(runs) < (PARAMS_ROUNDS[0] or 3):
            notes.append(f"{label} {PEER_NAMES[peer]} {s} B {what}: only "
                         f"{len(runs)} of {PARAMS_ROUNDS[0] or 3} rounds produced a result")

    for s in LAT_SIZES:
        for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
            pat = f"{raw}/{setup}-unet_{mode}-rtt-{s}.{disc}.r*.txt"
            ok, cpath = check_passed(raw, setup, mode, "rtt", s, disc)
            if not ok:
                CHECKS["failed"].append(os.path.basename(cpath))
                put("rtt", peer, s, [], "round trip", cpath)
                continue
            CHECKS["passed"] += 1
            put("rtt", peer, s, [unet_lat(p) for p in rounds(pat)],
                "round trip", pat)
        pat = f"{raw}/{setup}-udp-rtt-{s}.{disc}.r*.txt"
        put("rtt", "udp", s, [sockperf_rtt(p) for p in rounds(pat)],
            "round trip", pat)
        pat = f"{raw}/{setup}-rxe-rtt-{s}.{disc}.r*.txt"
        put("rtt", "rxe", s, [perftest_lat(p) for p in rounds(pat)],
            "round trip", pat)
    for s in BW_SIZES:
        for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
            pat = f"{raw}/{setup}-unet_{mode}-bw-{s}.{disc}.r*.txt"
            ok, cpath = check_passed(raw, setup, mode, "bw", s, disc)
            if not ok:
                CHECKS["failed"].append(os.path.basename(cpath))
                put("bw", peer, s, [], "bandwidth", cpath)
                continue
            CHECKS["passed"] += 1
            put("bw", peer, s, [unet_bw(p) for p in rounds(pat)],
                "bandwidth", pat)
        pat = f"{raw}/{setup}-udp-bw-{s}.{disc}.r*.txt"
        put("bw", "udp", s, [sockperf_tput(p) for p in rounds(pat)],
            "bandwidth", pat)
        pat = f"{raw}/{setup}-rxe-bw-{s}.{disc}.r*.txt"
        put("bw", "rxe", s, [perftest_bw(p) for p in rounds(pat)],
            "bandwidth", pat)
    return res


def msg_rates(raw, setup):
    """Messages per second at 8 and 64 bytes, busy-polling: (median,
    [min, max]) per peer and size."""
    med = {p: {} for p in PEERS}
    rng = {p: {} for p in PEERS}
    for s in RATE_SIZES:
        runs = {}
        for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
            ok, cpath = check_passed(raw, setup, mode, "bw", s, "busy")
            if not ok:
                CHECKS["failed"].append(os.path.basename(cpath))
                runs[peer] = []
                continue
            CHECKS["passed"] += 1
            runs[peer] = [unet_bw(p) for p in
                          rounds(f"{raw}/{setup}-unet_{mode}-rate-{s}.busy.r*.txt")]
        runs["udp"] = [sockperf_tput(p) for p in
                       rounds(f"{raw}/{setup}-udp-rate-{s}.busy.r*.txt")]
        runs["rxe"] = [perftest_bw(p) for p in
                       rounds(f"{raw}/{setup}-rxe-rate-{s}.busy.r*.txt")]
        for peer in PEERS:
            vals = [r[1] for r in runs[peer] if r is not None]
            med[peer][s], rng[peer][s] = spread(vals)
            if not vals:
                notes.append(f"{setup} {PEER_NAMES[peer]} {s} B message rate: "
                             "no result")
    return med, rng


def merge_wire(client_raw, server_raw):
    """The client guest holds the client outputs; the server guest the
    UDP receive counts."""
    for f in os.listdir(server_raw) if os.path.isdir(server_raw) else []:
        if f.endswith(".received") and os.path.isdir(client_raw):
            dst = os.path.join(client_raw, f)
            if not os.path.exists(dst):
                with open(os.path.join(server_raw, f)) as a, open(dst, "w") as b:
                    b.write(a.read())


def fmt(v, digits=1):
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def gnuplot(name, script):
    try:
        subprocess.run(["gnuplot"], input="\n".join(script), text=True,
                       check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        notes.append(f"plot {name}: gnuplot failed ({e})")
        return False


def plot(out, name, title, xlabel, ylabel, series, logx=True, logy=False,
         xtics=None):
    """series: list of (label, [(x, y, [lo, hi] or None), ...]); the range
    of the rounds is drawn as an error bar around the median."""
    data = os.path.join(out, f".{name}.dat")
    blocks = []
    for label, pts in series:
        pts = [(x, y, r or [y, y]) for x, y, r in pts if y is not None]
        blocks.append((label, pts))
    with open(data, "w") as f:
        for label, pts in blocks:
            f.write(f"# {label}\n")
            for x, y, r in pts:
                f.write(f"{x} {y} {r[0]} {r[1]}\n")
            f.write("\n\n")
    plots = []
    for i, (label, pts) in enumerate(blocks):
        if pts:
            plots.append(f"'{data}' index {i} using 1:2:3:4 with yerrorlines "
                         f"lw 2 pt 7 title '{label}'")
    if not plots:
        return None
    script = [
        "set terminal pngcairo size 900,560 font 'DejaVu Sans,11'",
        f"set output '{os.path.join(out, name)}.png'",
        f"set title '{title}'",
        f"set xlabel '{xlabel}'",
        f"set ylabel '{ylabel}'",
        "set grid",
        "set key outside right top",
        "set offsets graph 0.04, graph 0.04, graph 0.04, graph 0.04",
    ]
    if logx:
        script.append("set logscale x 2")
    if logy:
        script.append("set logscale y 10")
    if xtics:
        script.append("set xtics (" + ", ".join(f"'{t}' {t}" for t in xtics) + ")")
    script.append("plot " + ", ".join(plots))
    if not gnuplot(name, script):
        return None
    os.unlink(data)
    return f"{name}.png"


def bar_plot(out, name, title, ylabel, bars):
    data = os.path.join(out, f".{name}.dat")
    bars = [(l, v) for l, v in bars if v is not None]
    if not bars:
        return None
    with open(data, "w") as f:
        for label, v in bars:
            f.write(f"\"{label}\" {v}\n")
    script = [
        "set terminal pngcairo size 900,560 font 'DejaVu Sans,11'",
        f"set output '{os.path.join(out, name)}.png'",
        f"set title '{title}'",
        f"set ylabel '{ylabel}'",
        "set style data histograms", "set style fill solid 0.7",
        "set boxwidth 0.6", "set grid ytics", "set yrange [0:*]",
        "set logscale y 10" if max(v for _, v in bars) > 50 * min(v for _, v in bars) else "",
        f"plot '{data}' using 2:xtic(1) notitle lc rgb '#3070b0'",
    ]
    if not gnuplot(name, script):
        return None
    os.unlink(data)
    return f"{name}.png"


def scan_checks(raw_dirs):
    """Every checked run of the demo: passed, or failed with its file."""
    passed, failed = 0, []
    for raw in raw_dirs:
        for path in sorted(glob.glob(f"{raw}/*.check.txt")):
            j = tool_json(path)
            peer = (j or {}).get("server") or {}
            if (unet_ok(j) and j.get("check") is True and not j.get("lost")
                    and peer.get("mismatches", 0) == 0
                    and peer.get("errors", 0) == 0):
                passed += 1
            else:
                failed.append(os.path.basename(path))
    return passed, failed


def busy_variant(raw, setup):
    """Which sockperf busy-poll variant guest-run.sh chose, and the 8 B
    medians of both, from the selection runs."""
    v = (read(f"{raw}/{setup}-udp-busy-variant.txt") or "").strip() or None
    meds = {}
    for var in ("spin", "lls"):
        runs = [sockperf_rtt(p) for p in
                rounds(f"{raw}/{setup}-udp-select-8.{var}.r*.txt")]
        meds[var], _ = spread([r[0] for r in runs if r])
    return {"chosen": v, "select_8B_rtt_us": meds}


def params(raw):
    text = read(f"{raw}/params.txt") or ""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


def regdata(loop_raw):
    r = tool_json(f"{loop_raw}/regcost.txt") or {}
    u = tool_json(f"{loop_raw}/firstuse.txt") or {}
    # The pin-free TLB's (a module without translate= has none).
    n = tool_json(f"{loop_raw}/firstuse-nopin.txt") or {}
    if not r:
        missing("verbs registration", f"{loop_raw}/regcost.txt")
    if not u:
        missing("U-Net/MM first use", f"{loop_raw}/firstuse.txt")
    reg = {"sizes": r.get("sizes") or u.get("sizes") or REG_SIZES,
           "verbs_reg_us": r.get("verbs_reg_us"),
           "verbs_dereg_us": r.get("verbs_dereg_us"),
           "unetmm_first_use_us": u.get("unetmm_first_use_us"),
           "unetmm_nopin_first_use_us": n.get("unetmm_first_use_us")}
    fresh = {"unetmm": u.get("fresh_MBps"),
             "unetmm_nopin": n.get("fresh_MBps"),
             "rxe_register": r.get("fresh_register_MBps"),
             "rxe_bounce": r.get("fresh_bounce_MBps")}
    return reg, fresh


REG_SIZES = [4096, 65536, 1 << 20, 16 << 20, 256 << 20]


def scaling(loop_raw):
    """scale's runs: pinned memory and bandwidth against processes, and
    bandwidth against the working set / the TLB's reach, per mode."""
    sc = {"processes": PROCS, "pinned_kib": {}, "bw_MBps": {},
          "working_set": {"reach_ratio": [float(r) for r in REACH],
                          "region_kib": {}, "bw_MBps": {}}}
    nopin = any(os.path.exists(f"{loop_raw}/scale-mm_nopin-{p}.txt") for p in PROCS)
    if not nopin:
        notes.append("pin-free translation (translate=nopin): not measured, the module "
                     "has no such parameter")

    def one(path, what, peer):
        j = tool_json(path)
        if not j:
            if peer != "unetmm_nopin" or nopin:
                missing(what, path)
        elif j.get("errors"):
            notes.append(f"{what}: {j['errors']} messages arrived with an error status")
        return j

    for tag, peer in SCALE_PEERS:
        sc["pinned_kib"][peer], sc["bw_MBps"][peer] = [], []
        for p in PROCS:
            j = one(f"{loop_raw}/scale-{tag}-{p}.txt",
                    f"scaling {SCALE_NAMES[peer]} {p} processes", peer)
            sc["pinned_kib"][peer].append(j["pinned_kib"] if j else None)
            sc["bw_MBps"][peer].append(j["MBps"] if j else None)
        ws = sc["working_set"]
        ws["region_kib"][peer], ws["bw_MBps"][peer] = [], []
        for r in REACH:
            j = one(f"{loop_raw}/scale-ws-{tag}-{r}.txt",
                    f"working set {r}x the reach, {SCALE_NAMES[peer]}", peer)
            ws["region_kib"][peer].append(j.get("region_kib") if j else None)
            ws["bw_MBps"][peer].append(j["MBps"] if j else None)
    return sc


MPI_SYSTEMS = ["unet", "tcp", "ofi_tcp", "ofi_udp_rxd", "rxe"]
MPI_NAMES = {
    "unet": "unet provider (pml cm, mtl ofi)",
    "tcp": "Open MPI TCP (pml ob1, btl tcp)",
    "ofi_tcp": "libfabric tcp;ofi_rxm (mtl ofi)",
    "ofi_udp_rxd": "libfabric udp;ofi_rxd (mtl ofi)",
    "rxe": "UCX on Soft-RoCE (pml ucx)",
}
MPI_BW_SIZES = ["65536", "1048576"]


def netpipe(path):
    """{bytes: (Mbit/s, seconds per one-way transfer)} of one NPopenmpi
    output file (its lines: bytes, Mbit/s, seconds)."""
    out = {}
    for line in (read(path) or "").splitlines():
        f = line.split()
        try:
            out[int(f[0])] = (float(f[1]), float(f[2]))
        except (IndexError, ValueError):
            continue
    return out


def mpi_results(raw, setup):
    """NetPIPE over each MPI transport, 2 ranks in the loopback guest or
    one in each wire guest (@raw: guest 1's): 8 B one-way latency and
    64 KiB / 1 MiB bandwidth, median and [min, max] of the rounds, and the
    whole curve (medians) for the plot."""
    res = {"latency_us": {}, "latency_us_range": {}, "bw_MBps": {}, "bw_MBps_range": {},
           "curve_MBps": {}}
    for k in MPI_BW_SIZES:
        res["bw_MBps"][k], res["bw_MBps_range"][k] = {}, {}
    logs = rounds(f"{raw}/mpi-netpipe.r*.txt")
    if not logs:
        notes.append(f"MPI (NetPIPE), {setup}: not run in this demo")
    for sysname in MPI_SYSTEMS:
        runs = []
        for log in logs:
            rdir = os.path.join(raw, "mpi", os.path.basename(log)[len("mpi-netpipe."):-4])
            failed = re.search(rf"^{re.escape(sysname)}: failed\n(.*)", read(log) or "", re.M | re.S)
            np_ = netpipe(f"{rdir}/{sysname}.np") if not failed else {}
            if failed or 8 not in np_:
                why = failed.group(1).strip().splitlines()[:1] if failed else ["no result"]
                notes.append(f"MPI over {MPI_NAMES[sysname]}, {setup} ({os.path.basename(log)}): "
                             f"failed: {' '.join(why)[:200]}")
                continue
            runs.append(np_)
        lat = [r[8][1] * 1e6 for r in runs if 8 in r]
        res["latency_us"][sysname], res["latency_us_range"][sysname] = spread(lat)
        for k in MPI_BW_SIZES:
            bw = [r[int(k)][0] / 8 for r in runs if int(k) in r]
            res["bw_MBps"][k][sysname], res["bw_MBps_range"][k][sysname] = spread(bw)
        sizes = sorted(set().union(*[set(r) for r in runs])) if runs else []
        res["curve_MBps"][sysname] = [
            [s, spread([r[s][0] / 8 for r in runs if s in r])[0]] for s in sizes]
    return res


def single_pair_256(loop_raw):
    """One pair, the tools' default window, a 256-entry pinning TLB: the
    median and [min, max] of the rounds' MB/s per mode."""
    out = {"bw_MBps": {}, "bw_MBps_range": {}}
    for tag, peer in (("mm", "unetmm"), ("base", "unet_base")):
        runs = [unet_bw(f) for f in rounds(f"{loop_raw}/tlb256-unet_{tag}-bw.r*.txt")]
        if not any(runs):
            missing(f"one pair on a 256-entry TLB, {PEER_NAMES[peer]}",
                    f"{loop_raw}/tlb256-unet_{tag}-bw.r1.txt")
        med, rg = spread([r[0] if r else None for r in runs])
        out["bw_MBps"][peer], out["bw_MBps_range"][peer] = med, rg
    return out


def host_steal_pct(raw):
    """Share of the host's CPU time the hypervisor took (/proc/stat steal)
    while a setup ran: run-demo's lines before and after it."""
    text = read(f"{raw}/host-cpu.txt") or ""
    rows = [list(map(int, m.split())) for m in
            re.findall(r"^(?:before|after): cpu +([0-9 ]+)$", text, re.M)]
    if len(rows) != 2 or len(rows[0]) < 8:
        return None
    d = [b - a for a, b in zip(rows[0][:8], rows[1][:8])]
    return 100.0 * d[7] / sum(d) if sum(d) > 0 else None


def wire_ping(wire2_raw):
    """The link's own tail: ping's per-echo times across the wire (µs)."""
    text = read(f"{wire2_raw}/wire-ping.txt")
    times = sorted(float(t) * 1000 for t in re.findall(r"time=([0-9.]+) ms", text or ""))
    if not times:
        missing("kernel ICMP echo across the wire", f"{wire2_raw}/wire-ping.txt")
        return None
    def pct(q):
        return times[min(len(times) - 1, int(q * len(times)))]
    return {"median": pct(0.5), "p99": pct(0.99), "p99.9": pct(0.999),
            "samples": len(times)}


def time_budget(raw):
    """Where one guest's time went, from its timing.txt (eval/guest-run.sh):
    each phase's seconds, and the seconds its commands took by peer."""
    text = read(f"{raw}/timing.txt")
    if not text:
        return None
    starts, took = [], {}
    for line in text.splitlines():
        f = line.split(None, 3)
        if len(f) >= 3 and f[1] == "phase":
            starts.append((float(f[0]), f[3] if len(f) > 3 else f[2]))
        elif len(f) == 4 and f[1] == "took":
            what = f[3]
            peer = ("barriers" if what.startswith("barrier-") else
                    "U-Net" if "-unet_" in what else
                    "UDP" if "-udp-" in what else
                    "Soft-RoCE" if "-rxe-" in what else "other")
            took[peer] = took.get(peer, 0.0) + float(f[2])
    phases = [[name, round(t1 - t0, 1)]
              for (t0, name), (t1, _) in zip(starts, starts[1:])]
    total = round(starts[-1][0] - starts[0][0], 1) if len(starts) > 1 else None
    return {"phases": phases, "total": total,
            "commands_by_peer": {k: round(v, 1) for k, v in sorted(took.items())}}


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    loop_raw, wire1_raw, wire2_raw, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    merge_wire(wire2_raw, wire1_raw)
    WIRE_VCPUS[0] = (read(f"{wire1_raw}/vcpus.txt") or "?").strip()

    accel = (read("build/guest/accel") or "tcg").split()[0]
    kernel = (read(f"{loop_raw}/kernel.txt") or "").strip() or None
    raws = {"loopback": loop_raw, "wire": wire2_raw}
    PARAMS_ROUNDS[0] = params(loop_raw).get("rounds")
    res = {
        "env": {
            "accel": accel,
            "guest_kernel": kernel,
            "vcpus_per_guest": int((read(f"{loop_raw}/vcpus.txt") or "2").strip() or 2),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "params": {"loopback": params(loop_raw), "wire": params(wire2_raw)},
            "host_steal_pct": {"loopback": host_steal_pct(loop_raw),
                               "wire": host_steal_pct(wire2_raw)},
        },
    }
    for (setup, disc), key in TABLES.items():
        res[key] = setup_results(raws[setup], setup, disc)
    res["udp_busy_variant"] = {s: busy_variant(raws[s], s) for s in raws}
    res["msg_rate"], res["msg_rate_range"] = {}, {}
    for setup in raws:
        res["msg_rate"][setup], res["msg_rate_range"][setup] = msg_rates(raws[setup], setup)
    passed, failed = scan_checks([loop_raw, wire2_raw])
    failed = sorted(set(failed) | set(CHECKS["failed"]))
    res["checked_runs"] = passed
    res["checked_runs_failed"] = failed
    m = tool_json(f"{loop_raw}/memcpy.txt")
    res["memcpy_MBps"] = m["MBps"] if m else missing("memcpy (warm, 2 MiB)", f"{loop_raw}/memcpy.txt")
    m = tool_json(f"{loop_raw}/memcpy-cold.txt")
    res["memcpy_cold_MBps"] = m["MBps"] if m else missing("memcpy (cold, 64 MiB)", f"{loop_raw}/memcpy-cold.txt")
    res["wire_ping_us"] = wire_ping(wire2_raw)
    res["registration"], res["fresh_buffer_bw_MBps"] = regdata(loop_raw)
    t = tool_json(f"{loop_raw}/tlbcost.txt") or {}
    if not t:
        missing("TLB costs", f"{loop_raw}/tlbcost.txt")
    if t.get("swapped_note"):
        notes.append(f"TLB miss on a swapped-out page: {t['swapped_note']}")
    res["tlb"] = {k: t.get(k) for k in ("entries", "hit_rtt_us", "cold_rtt_us",
                                        "miss_resident_us", "miss_fault_us",
                                        "miss_swapped_us", "misses_per_64k_cold",
                                        "thp_misses_per_mib")}
    res["tlb"]["single_pair_256"] = single_pair_256(loop_raw)
    res["scaling"] = scaling(loop_raw)
    res["mpi"] = {"loopback": mpi_results(loop_raw, "loopback"),
                  "wire": mpi_results(wire1_raw, "wire")}
    res["targets"] = [dict(zip(("target", "value", "goal", "verdict"), t))
                      for t in target_rows(res)]
    res["demo_seconds"] = {"loopback": time_budget(loop_raw),
                           "wire": time_budget(wire2_raw)}

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    plots = []
    for (setup, disc), key in TABLES.items():
        r = res[key]
        plots.append(plot(out, f"latency-{key}",
                          f"Round trip, {setup}, {DISC_NAMES[disc]} (median, range of rounds)",
                          "message size (bytes)", "round trip (us)",
                          [(PEER_NAMES[p], [(int(s), r["rtt_us"][p][s], r["rtt_us_range"][p][s])
                                            for s in LAT_SIZES])
                           for p in PEERS], logy=True, xtics=LAT_SIZES))
        plots.append(plot(out, f"bandwidth-{key}",
                          f"Bandwidth, {setup}, {DISC_NAMES[disc]} (median, range of rounds)",
                          "message size (bytes)", "MB/s",
                          [(PEER_NAMES[p], [(int(s), r["bw_MBps"][p][s], r["bw_MBps_range"][p][s])
                                            for s in BW_SIZES])
                           for p in PEERS] +
                          ([("guest memcpy, warm 2 MiB", [(int(s), res["memcpy_MBps"], None)
                                                          for s in BW_SIZES])]
                           if setup == "loopback" else []),
                          xtics=BW_SIZES))
    sc = res["scaling"]
    # A linear scale: the pin-free TLB's 0 KiB has no place on a log one.
    plots.append(plot(out, "pinned-memory",
                      "Pinned memory, N processes streaming from 1 MiB each",
                      "processes", "pinned memory (KiB)",
                      [(SCALE_NAMES[p], [(x, y, None) for x, y in zip(PROCS, sc["pinned_kib"][p])])
                       for _, p in SCALE_PEERS],
                      xtics=[str(p) for p in PROCS]))
    plots.append(plot(out, "scaling-bandwidth",
                      "Aggregate bandwidth, N processes streaming from 1 MiB each",
                      "processes", "MB/s",
                      [(SCALE_NAMES[p], [(x, y, None) for x, y in zip(PROCS, sc["bw_MBps"][p])])
                       for _, p in SCALE_PEERS], xtics=[str(p) for p in PROCS]))
    ws = sc["working_set"]
    plots.append(plot(out, "working-set-bandwidth",
                      "One process: bandwidth against its working set / the TLB reach",
                      "working set / TLB reach", "MB/s",
                      [(SCALE_NAMES[p], [(x, y, None) for x, y in
                                         zip(ws["reach_ratio"], ws["bw_MBps"][p])])
                       for _, p in SCALE_PEERS], xtics=REACH))
    for setup, where in (("loopback", "2 MPI ranks in one guest"),
                         ("wire", "one MPI rank in each guest")):
        m = res["mpi"][setup]
        plots.append(plot(out, f"mpi-netpipe-{setup}",
                          f"NetPIPE bandwidth, {where} (median of rounds)",
                          "message size (bytes)", "MB/s",
                          [(MPI_NAMES[s], [(x, y, None) for x, y in m["curve_MBps"].get(s, [])])
                           for s in MPI_SYSTEMS], logy=True))
    tl = res["tlb"]
    plots.append(bar_plot(out, "tlb-miss-cost", "U-Net/MM TLB costs (loopback, us)",
                          "microseconds",
                          [("RTT warm TLB", tl["hit_rtt_us"]),
                           ("RTT cold TLB", tl["cold_rtt_us"]),
                           ("miss: resident", tl["miss_resident_us"]),
                           ("miss: fault-in", tl["miss_fault_us"]),
                           ("miss: swapped", tl["miss_swapped_us"])]))
    plots = [p for p in plots if p]

    lines = report_md(res, plots)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print_table(res)
    print(f"\nwrote {out}/results.json, {out}/report.md and {len(plots)} plots")
    if failed:
        print(f"\nreport: {len(failed)} checked run(s) FAILED (data mismatch, "
              f"error or no result): {', '.join(failed)}", file=sys.stderr)
        return 1
    if not passed:
        print("\nreport: no checked run at all", file=sys.stderr)
        return 1
    return 0


def rng(r):
    return f"[{fmt(r[0])}, {fmt(r[1])}]" if r else ""


def rtt_table(r):
    rows = ["| peer | size (B) | round trip µs: median [min, max] of rounds "
            "| p99 [min, max] | p99.9 | samples per round | rounds |",
            "|---|---|---|---|---|---|---|"]
    for p in PEERS:
        for s in LAT_SIZES:
            rows.append(f"| {PEER_NAMES[p]} | {s} | {fmt(r['rtt_us'][p][s])} "
                        f"{rng(r['rtt_us_range'][p][s])} | {fmt(r['rtt_p99_us'][p][s])} "
                        f"{rng(r['rtt_p99_us_range'][p][s])} | {fmt(r['rtt_p999_us'][p][s])} "
                        f"| {r['rtt_samples'][p].get(s) or '—'} | {r['rtt_rounds'][p].get(s, 0)} |")
    return rows


def bw_table(r):
    rows = ["| peer | " + " | ".join(f"{s} B: MB/s median [min, max]" for s in BW_SIZES)
            + " | rounds |", "|---|" + "---|" * (len(BW_SIZES) + 1)]
    for p in PEERS:
        cells = [f"{fmt(r['bw_MBps'][p][s])} {rng(r['bw_MBps_range'][p][s])}"
                 for s in BW_SIZES]
        nr = min(r["bw_rounds"][p].get(s, 0) for s in BW_SIZES)
        rows.append(f"| {PEER_NAMES[p]} | " + " | ".join(cells) + f" | {nr} |")
    return rows


def target_rows(res):
    """(target, value, goal, verdict) for every target of issue 13: busy
    tables unless named otherwise."""
    lb, w, lbb = res["loopback"], res["wire"], res["loopback_blocking"]
    out = []

    def check(name, value, limit, better="lower", digits=2):
        goal = f"{'≤' if better == 'lower' else '≥'} {limit}"
        if value is None:
            out.append((name, "—", goal, "not measured"))
            return
        ok = value <= limit if better == "lower" else value >= limit
        out.append((name, f"{value:.{digits}f}", goal, "met" if ok else "missed"))

    def g(r, k, p, s):
        return r[k][p][s]

    mm8 = g(lb, "rtt_us", "unetmm", "8")
    check("loopback 8 B RTT, U-Net/MM ÷ UDP", ratio(mm8, g(lb, "rtt_us", "udp", "8")), 0.5)
    check("loopback 8 B RTT, U-Net/MM ÷ Soft-RoCE", ratio(mm8, g(lb, "rtt_us", "rxe", "8")), 0.5)
    wm8 = g(w, "rtt_us", "unetmm", "8")
    check("wire 8 B RTT, U-Net/MM ÷ UDP", ratio(wm8, g(w, "rtt_us", "udp", "8")), 0.7)
    check("wire 8 B RTT, U-Net/MM p99 ÷ its median",
          ratio(g(w, "rtt_p99_us", "unetmm", "8"), wm8), 3)
    check("wire 64 KiB BW, U-Net/MM ÷ UDP",
          ratio(g(w, "bw_MBps", "unetmm", "65536"), g(w, "bw_MBps", "udp", "65536")),
          1.2, "higher")
    check("loopback 1 KiB RTT (warm TLB), U-Net/MM ÷ base-level",
          ratio(g(lb, "rtt_us", "unetmm", "1024"), g(lb, "rtt_us", "unet_base", "1024")), 1.05)
    check("loopback 64 KiB BW, U-Net/MM ÷ base-level",
          ratio(g(lb, "bw_MBps", "unetmm", "65536"), g(lb, "bw_MBps", "unet_base", "65536")),
          1.5, "higher")
    check("loopback 64 KiB BW, U-Net/MM ÷ warm memcpy (2 MiB)",
          ratio(g(lb, "bw_MBps", "unetmm", "65536"), res["memcpy_MBps"]), 0.7, "higher")
    mr = res["msg_rate"]["loopback"]
    check("loopback 8 B message rate, U-Net/MM ÷ UDP",
          ratio(mr["unetmm"].get("8"), mr["udp"].get("8")), 2, "higher")
    check("blocking loopback 8 B RTT, U-Net/MM ÷ UDP (blocking)",
          ratio(g(lbb, "rtt_us", "unetmm", "8"), g(lbb, "rtt_us", "udp", "8")), 0.7)
    reg = res["registration"]
    first = verbs = None
    if reg["sizes"] and (1 << 20) in reg["sizes"]:
        i = reg["sizes"].index(1 << 20)
        if reg["unetmm_first_use_us"]:
            first = reg["unetmm_first_use_us"][i]
        if reg["verbs_reg_us"] and reg["verbs_dereg_us"]:
            verbs = reg["verbs_reg_us"][i] + reg["verbs_dereg_us"][i]
    check("first use of 1 MiB fresh memory, U-Net/MM ÷ verbs reg + dereg",
          ratio(first, verbs), 0.5)
    sc = res["scaling"]
    pin_mm = sc["pinned_kib"]["unetmm"][-1]
    cap = (res["tlb"]["entries"] or 0) * 4
    check("pinned at 64 processes, U-Net/MM ÷ TLB capacity",
          ratio(pin_mm, cap or None), 1)
    # Issue 14's: memory conserved without losing speed.
    bw = sc["bw_MBps"]
    best = max((v for v in (bw["unetmm"][-1], bw["unetmm_nopin"][-1]) if v is not None),
               default=None)
    check("64 processes × 1 MiB: better U-Net/MM mode's BW ÷ base-level",
          ratio(best, bw["unet_base"][-1]), 0.8, "higher")
    check("pinned KiB at 64 processes, pin-free U-Net/MM",
          sc["pinned_kib"]["unetmm_nopin"][-1], 0, digits=0)
    check("TLB misses per MiB streamed from a THP buffer",
          res["tlb"]["thp_misses_per_mib"], 1)
    one = res["tlb"]["single_pair_256"]["bw_MBps"]
    check("one pair, default window, 256-entry TLB: U-Net/MM BW ÷ base-level",
          ratio(one["unetmm"], one["unet_base"]), 0.8, "higher")
    # Issue 16's: unchanged MPI programs on the unet provider.
    ml = res["mpi"]["loopback"]
    check("MPI (NetPIPE) 8 B latency in one guest, unet ÷ Open MPI TCP",
          ratio(ml["latency_us"].get("unet"), ml["latency_us"].get("tcp")), 0.5)
    mw = res["mpi"]["wire"]
    check("MPI (NetPIPE) 8 B latency across the wire, unet ÷ Open MPI TCP",
          ratio(mw["latency_us"].get("unet"), mw["latency_us"].get("tcp")), 0.7)
    check("MPI (NetPIPE) 1 MiB bandwidth across the wire, unet ÷ Open MPI TCP",
          ratio(mw["bw_MBps"]["1048576"].get("unet"), mw["bw_MBps"]["1048576"].get("tcp")),
          1.2, "higher")
    return out


def targets(res):
    return [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in target_rows(res)]


def samples_sentence(res):
    """How many samples each p99 comes from, from the raw outputs."""
    parts = []
    for key in TABLES.values():
        ns = [n for p in PEERS for n in res[key]["rtt_samples"][p].values() if n]
        if ns:
            parts.append(f"{key} {min(ns)} to {max(ns)}")
    return "; ".join(parts)


def steal_sentence(st):
    """The host's own share of noise: CPU time its hypervisor took."""
    if not any(v is not None for v in st.values()):
        return ""
    parts = [f"{k} {v:.1f} %" for k, v in st.items() if v is not None]
    return ("  CPU time of this host taken by its own hypervisor (steal, "
            "/proc/stat) while the guests ran: " + ", ".join(parts) + ".")


def report_md(res, plots):
    e = res["env"]
    pl = e["params"]["loopback"]
    L = ["# U-Net/MM evaluation", "",
         f"Run {e['date']}: guests on **{e['accel'].upper()}** "
         f"(kernel {e['guest_kernel']}; {e['vcpus_per_guest']} vCPUs in the loopback guest, "
         f"{WIRE_VCPUS[0]} in each wire guest"
         + ("). " if pl.get("quick") else
            ", so that two guests of busy-polling vCPUs do not oversubscribe the "
            "host's cores; the setups ran one after the other). ")
         + 
         "Every peer ran in the same guests in the same run.  Under TCG every "
         "instruction is emulated: absolute times are many times those of real "
         "hardware, so read the ratios, not the microseconds."
         + steal_sentence(e.get("host_steal_pct") or {}), ""]
    if pl.get("quick"):
        L += ["**QUICK run** (`make demo QUICK=1`): a check of the pipeline, not a "
              "measurement.  One round of everything, fewer samples, and the loopback and "
              "wire setups ran at the same time, four vCPUs on the host's cores: compare "
              "nothing here.", ""]
    L += [
         f"Every round trip and bandwidth is the median of {pl.get('rounds', '?')} rounds "
         "(U-Net's two modes taking turns within each round; each peer's rounds run one "
         "after another in that peer's own phase of the run) with the smallest and "
         "largest round in brackets; each round's median, p99 and p99.9 come from that "
         "round's own samples.  Samples per round behind each p99 (the smallest of the "
         f"rounds): {samples_sentence(res)}.  Bandwidths are MB/s (10^6 bytes/s) of data "
         "that arrived.", "",
         f"**Checked data**: {res['checked_runs']} checked runs passed "
         "(`--check`: every byte filled by the sender and verified by the receiver, on "
         "both sides); each U-Net figure is preceded in this run by a passing checked run "
         "of the same tool, size, mode and discipline, and a figure whose checked run did "
         "not pass is left out and fails the demo."
         + (f"  FAILED: {', '.join(res['checked_runs_failed'])}."
            if res["checked_runs_failed"] else ""), ""]
    uv = res["udp_busy_variant"]
    for (setup, disc), key in TABLES.items():
        L += [f"## {setup.capitalize()}, {DISC_NAMES[disc]} (`{key}`)", ""]
        if disc == "busy":
            v = uv[setup]
            sel = v["select_8B_rtt_us"]
            if v["chosen"] not in UDP_VARIANT_FLAGS:
                L += ["Kernel UDP: no busy-poll variant was chosen (the selection runs "
                      "left no result).", ""]
            else:
                L += [f"Kernel UDP busy-polls with sockperf "
                  f"`{UDP_VARIANT_FLAGS.get(v['chosen'], '?')}`: of the two ways, "
                  f"`--nonblocked` (spinning on a non-blocking socket) had an 8 B median "
                  f"of {fmt(sel['spin'])} µs and `--lls 50` (SO_BUSY_POLL) {fmt(sel['lls'])} µs "
                  "in this setup, and the faster was used for every busy UDP figure.", ""]
        L += rtt_table(res[key]) + [""] + bw_table(res[key]) + [""]
    L += ["## Message rate (busy-polling)", "",
          "| setup | peer | 8 B msg/s median [min, max] | 64 B msg/s median [min, max] |",
          "|---|---|---|---|"]
    for setup in ("loopback", "wire"):
        for p in PEERS:
            m, r = res["msg_rate"][setup][p], res["msg_rate_range"][setup][p]
            L.append(f"| {setup} | {PEER_NAMES[p]} | {fmt(m.get('8'))} {rng(r.get('8'))} | "
                     f"{fmt(m.get('64'))} {rng(r.get('64'))} |")
    L += ["", "## Targets", "", "| target | measured | goal | |", "|---|---|---|---|"]
    L += targets(res) + [""]
    pg = res["wire_ping_us"]
    if pg:
        L += [f"For reference, not a target: the link's own tail.  The kernel's "
              f"ICMP echo across the same wire (`ping -i 0.002`, 56 B, blocking, "
              f"guest 2 to guest 1, {pg['samples']} echoes) took median "
              f"{fmt(pg['median'])} µs, p99 {fmt(pg['p99'])} µs "
              f"({pg['p99'] / pg['median']:.1f}× its median), p99.9 "
              f"{fmt(pg['p99.9'])} µs.", ""]
    reg, fr = res["registration"], res["fresh_buffer_bw_MBps"]
    L += ["## Registration against first use", "",
          "| size | verbs ibv_reg_mr µs | ibv_dereg_mr µs | U-Net/MM first use µs "
          "| pin-free TLB µs |",
          "|---|---|---|---|---|"]
    for i, sz in enumerate(reg["sizes"]):
        def at(k):
            v = reg.get(k)
            return fmt(v[i]) if v and i < len(v) else "—"
        L.append(f"| {sz // 1024} KiB | {at('verbs_reg_us')} | {at('verbs_dereg_us')} | "
                 f"{at('unetmm_first_use_us')} | {at('unetmm_nopin_first_use_us')} |")
    L += ["", f"Fresh-buffer workload ({pl.get('fresh_n', '?')} messages of 64 KiB, each from memory not "
          f"used before): U-Net/MM {fmt(fr['unetmm'])} MB/s (pin-free TLB "
          f"{fmt(fr['unetmm_nopin'])} MB/s), verbs registering each "
          f"buffer {fmt(fr['rxe_register'])} MB/s, verbs copying into a registered "
          f"bounce buffer {fmt(fr['rxe_bounce'])} MB/s.", ""]
    t = res["tlb"]
    L += ["## The TLB", "",
          f"{t['entries']} entries.  Round trip of a 1 KiB message through the loopback "
          f"path: {fmt(t['hit_rtt_us'])} us with the TLB warm, {fmt(t['cold_rtt_us'])} us when "
          "every buffer misses.  Agent service time of one miss (from the NIC posting it to "
          f"the translation installed): {fmt(t['miss_resident_us'])} us for a resident page, "
          f"{fmt(t['miss_fault_us'])} us for a page faulted in on first touch, "
          f"{fmt(t['miss_swapped_us'])} us for a page swapped out to zram.", ""]
    sc = res["scaling"]
    ws = sc["working_set"]
    L += ["## Pinned memory and bandwidth under a job load", "",
          "N processes, each streaming 64 KiB messages from its own 1 MiB through the "
          "loopback path (`eval/scale`); the pin-free TLB (`translate=nopin`) has its own "
          "default size.  Then one process streaming from a working set of 0.25× to 16× "
          "the TLB's reach (entries × 4 KiB of the module as loaded), each region at least "
          "twice over.", "",
          "| processes | " + " | ".join(str(p) for p in sc["processes"]) + " |",
          "|---|" + "---|" * len(sc["processes"])]
    for _, p in SCALE_PEERS:
        L.append(f"| {SCALE_NAMES[p]} pinned KiB | "
                 + " | ".join(fmt(v) for v in sc["pinned_kib"][p]) + " |")
    for _, p in SCALE_PEERS:
        L.append(f"| {SCALE_NAMES[p]} MB/s | "
                 + " | ".join(fmt(v) for v in sc["bw_MBps"][p]) + " |")
    L += ["", "| working set / reach | " + " | ".join(REACH) + " |",
          "|---|" + "---|" * len(REACH)]
    for _, p in SCALE_PEERS:
        L.append(f"| {SCALE_NAMES[p]} MB/s | "
                 + " | ".join(fmt(v) for v in ws["bw_MBps"][p]) + " |")
    L += ["", f"Misses per cold 64 KiB message: {fmt(res['tlb']['misses_per_64k_cold'], 2)}; "
          f"per MiB streamed from a transparent huge page: "
          f"{fmt(res['tlb']['thp_misses_per_mib'], 2)} (`eval/tlbcost`).", ""]
    one = res["tlb"]["single_pair_256"]
    L += ["One pair with the tools' default window (`unet_bw`: 32 sends of 64 KiB in "
          "flight, 64 receive buffers of 64 KiB, 6 MiB in all) through the loopback path "
          "on a 256-entry pinning TLB (1 MiB of reach), median [min, max] of the rounds: "
          f"U-Net/MM {fmt(one['bw_MBps']['unetmm'])} {rng(one['bw_MBps_range']['unetmm'])} MB/s, "
          f"base-level {fmt(one['bw_MBps']['unet_base'])} "
          f"{rng(one['bw_MBps_range']['unet_base'])} MB/s.", ""]
    L += ["## MPI: unchanged programs on the unet provider", "",
          "NetPIPE (`NPopenmpi -l 8 -u 1048576 -p 0`, "
          f"{pl.get('np_repeats', '?')} repeats per size) over each transport in turn "
          "(`eval/mpi-netpipe.sh`): loopback, 2 ranks in the loopback guest (Open MPI's TCP "
          "over `lo`); wire, one rank in each wire guest, started through "
          "`tests/fabric/unet-rsh` (Open MPI's TCP over eth0).  One-way latency and bandwidth "
          f"as NetPIPE reports them, median [min, max] of {pl.get('mpi_rounds', '?')} round(s) "
          "(NetPIPE averages its repetitions per size within a round; the rounds show how "
          "far a whole run moves).  One discipline for all: each transport is "
          "driven by Open MPI's progress loop, which polls (non-blocking socket reads for "
          "TCP, `fi_cq_read` for the OFI providers, `ucp_worker_progress` for UCX) and never "
          "sleeps in the kernel waiting for data.  The unet run excludes libfabric's RXD "
          "(`-x FI_PROVIDER=^ofi_rxd`): Open MPI matches `mtl_ofi_provider_include` by "
          "prefix, and RXD layered over unet's DGRAM endpoints (`unet;ofi_rxd`) would "
          "otherwise be taken instead of the unet RDM provider.", "",
          "| setup | transport | 8 B latency µs | 64 KiB MB/s | 1 MiB MB/s |",
          "|---|---|---|---|---|"]
    for setup in ("loopback", "wire"):
        m = res["mpi"][setup]
        for s in MPI_SYSTEMS:
            L.append(f"| {setup} | {MPI_NAMES[s]} | {fmt(m['latency_us'][s])} "
                     f"{rng(m['latency_us_range'][s])} | "
                     f"{fmt(m['bw_MBps']['65536'][s])} {rng(m['bw_MBps_range']['65536'][s])} | "
                     f"{fmt(m['bw_MBps']['1048576'][s])} {rng(m['bw_MBps_range']['1048576'][s])} |")
    L.append("")
    if LOW_SAMPLES:
        notes.append("p99 from fewer than 10,000 samples per round: "
                     + "; ".join(LOW_SAMPLES))
    L += ["## Reading", ""] + reading(res) + [""]
    if notes:
        L += ["## Missing or qualified values", ""] + [f"* {n}" for n in notes] + [""]
    L += time_section(res.get("demo_seconds") or {})
    L += ["## Plots", "", "Error bars are the smallest and largest of the rounds.", ""]
    L += [f"![{p}]({p})" for p in plots] + [""]
    L += ["## How each number was made", "",
          "* On loopback every peer's server runs on vCPU 0 and its client on vCPU 1 "
          "(`taskset`), so that a round trip never depends on the two sharing a vCPU.  "
          "On the wire guest 1 serves and guest 2 runs the clients.",
          "* Busy-polling tables: U-Net's tools poll their rings and, when a receive ring "
          "is empty, run the network device's NAPI from the polling process for up to "
          "50 µs (`unet_busy_poll()`, their default `--busy-poll 50`; loopback has no "
          "device to poll); sockperf's client and "
          "server both run with the busy-poll flags named above the table for round trips, "
          "and for throughput the server (the receiver) does, the sender having nothing to "
          "wait for; perftest polls "
          "its completion queue (its default).  Blocking tables: U-Net's tools with "
          "`--block` (sleeping in `unet_wait()`) on both sides; sockperf without those "
          "flags, so its receivers block in `recvfrom()`; perftest with `-e` (sleeping on "
          "completion events) on both sides.  Every raw file starts with the command that "
          "made it, and `eval/check-report` holds this paragraph to them.",
          f"* U-Net/MM and base-level U-Net: `build/bin/unet_lat` ({pl.get('lat_n', '?')} "
          f"timed round trips per round busy-polling, {pl.get('lat_nb', '?')} blocking and "
          "on the wire at 8 KiB, after 100 untimed) and `build/bin/unet_bw` "
          f"({pl.get('bw_n', '?')} messages, 16 in flight into 16 receive buffers) with "
          "`--mode mm|base`, each against a server of the same discipline; base-level "
          "copies data into and out of its segment, as an application without U-Net/MM "
          f"must.  Checked runs: the same tools with `--check`, {pl.get('check_n', '?')} "
          "messages each, before the timed runs, which do not check.",
          "* UDP: `sockperf ping-pong --full-rtt` and `sockperf throughput`, each for the "
          "time its raw file's command gives (`-t`, 1 to 10 s, longer where a round trip "
          "takes longer, to reach about as many samples as the other peers); 8 B uses "
          "sockperf's smallest message (14 B) and 64 KiB its largest datagram (65507 B).  "
          "Throughput and message rate are the sender's rates scaled by the fraction of "
          "its datagrams (`Total of N messages sent`) that the server guest's UDP "
          "InDatagrams counter (`/proc/net/snmp`) counted during the run.  Every "
          "sockperf client runs with `build/eval/sockperf_settle.so` preloaded, which "
          "shortens the fixed 2 s pause sockperf's client takes between its warm-up and "
          "its measurement to 0.2 s (sockperf has no option for it); what is measured "
          "does not change.",
          "* Soft-RoCE: `rdma link add rxe0 type rxe netdev eth0`, `ib_send_lat -n "
          f"{pl.get('ib_n', '?')}` busy-polling, `-n {pl.get('ib_nb', '?')}` blocking and "
          "on the wire at 8 KiB (its one-way latency and percentiles doubled into a "
          f"round trip) and `ib_send_bw -n {pl.get('ib_bw_n', '?')}`; perftest's MB are "
          "2^20 bytes, converted.",
          f"* Message rate: `unet_bw -s 8|64 -n {pl.get('rate_n', '?')}` (16 in flight), "
          "`sockperf throughput -m 14|64` (received as above) and "
          f"`ib_send_bw -s 8|64 -n {pl.get('rate_n', '?')}`, busy-polling, "
          f"{pl.get('rounds', '?')} rounds.",
          "* memcpy: `build/eval/memcpy_bw`, 64 KiB blocks round and round a 2 MiB region "
          "(warm: the NIC's working set for a 64 KiB stream into 16 receive buffers; "
          "`memcpy_MBps`, used by the target) and a 64 MiB one (cold, larger than the "
          "last-level cache; `memcpy_cold_MBps`).",
          "* Registration: `build/eval/regcost` (libibverbs on rxe0) and "
          "`build/eval/firstuse` (U-Net/MM, with the module's default pinning TLB, "
          "which the target uses, and again with the module reloaded "
          "`translate=nopin`, the pin-free TLB); see their first comments.",
          "* TLB: `build/eval/tlbcost`; pinned memory: `build/eval/scale` (peak of the NIC's "
          "pinned-page counter for U-Net/MM, of its segment-page counter for base-level).",
          "* Raw outputs: `build/guest/out/demo-*/guest*/raw/`."]
    return L


UDP_VARIANT_FLAGS = {"spin": "--nonblocked", "lls": "--lls 50"}


def time_section(budget):
    """Where the run's time went, per guest setup (`demo_seconds`)."""
    L = []
    for setup, b in budget.items():
        if not b or not b["phases"]:
            continue
        if not L:
            L += ["## Where the time went", "",
                  "Seconds of each phase in the guest (from the guest's "
                  "`raw/timing.txt`; on the wire, guest 2's, the client's); then "
                  "the seconds the peers' client commands took, by peer (perftest's "
                  "retries of a client whose server was not listening yet "
                  "included; \"other\" is a command of no peer, the wire's ping), "
                  "and the seconds spent waiting at the barriers that "
                  "keep the two wire guests in step.  The rest of a phase is "
                  "starting and stopping servers and the tools run without a "
                  "client (registration, TLB, scaling, MPI).", ""]
        L += [f"{setup.capitalize()}: {fmt(b['total'], 0)} s in all.", "",
              "| phase | s |", "|---|---|"]
        L += [f"| {name} | {fmt(sec, 0)} |" for name, sec in b["phases"]]
        L += ["", "In commands by peer, and at barriers: " + ", ".join(
            f"{k} {fmt(v, 0)} s" for k, v in b["commands_by_peer"].items()) + ".", ""]
    return L


def reading(res):
    lb, w = res["loopback"], res["wire"]
    out = []
    mm8, b8 = lb["rtt_us"]["unetmm"]["8"], lb["rtt_us"]["unet_base"]["8"]
    udp8, rxe8 = lb["rtt_us"]["udp"]["8"], lb["rtt_us"]["rxe"]["8"]
    if mm8 and udp8:
        out.append(f"* Small messages, both busy-polling: U-Net/MM's loopback round trip "
                   f"is {mm8 / udp8:.2f}× the kernel UDP path's.")
    bb8 = res["loopback_blocking"]["rtt_us"]
    if bb8["unetmm"]["8"] and bb8["udp"]["8"]:
        out.append(f"* Both blocking, it is {bb8['unetmm']['8'] / bb8['udp']['8']:.2f}× "
                   "UDP's: here both pay for a sleep and a wake-up per message.")
    if mm8 and rxe8:
        out.append(f"* Against Soft-RoCE, a verbs stack over the same kind of software NIC, "
                   f"U-Net/MM's 8 B round trip is {mm8 / rxe8:.2f}× as long.")
    m1, b1 = lb["rtt_us"]["unetmm"]["1024"], lb["rtt_us"]["unet_base"]["1024"]
    if m1 and b1:
        out.append(f"* At 1 KiB, a message the NIC translates through its TLB, warm-TLB "
                   f"U-Net/MM's round trip is {m1 / b1:.2f}× base-level U-Net's "
                   "(8 B messages travel inline and never touch the TLB).")
    bm, bb = lb["bw_MBps"]["unetmm"]["65536"], lb["bw_MBps"]["unet_base"]["65536"]
    if bm and bb and res["memcpy_MBps"]:
        out.append(f"* 64 KiB loopback bandwidth: U-Net/MM {bm:.0f} MB/s, {bm / bb:.2f}× "
                   f"base-level U-Net ({bb:.0f} MB/s, which copies into and out of its "
                   f"segment) and {bm / res['memcpy_MBps']:.2f}× a warm memcpy over the same "
                   f"working set ({res['memcpy_MBps']:.0f} MB/s; cold, over 64 MiB: "
                   f"{fmt(res['memcpy_cold_MBps'])} MB/s).")
    wm = w["rtt_us"]["unetmm"]["8"]
    if wm:
        out.append(f"* Across the wire the 8 B round trip grows to {wm:.0f} µs (p99 "
                   f"{fmt(w['rtt_p99_us']['unetmm']['8'])} µs): two virtio-net devices and "
                   "the QEMU socket between the guests dominate.")
    sc = res["scaling"]
    if sc["pinned_kib"]["unetmm"][-1] is not None and sc["pinned_kib"]["unet_base"][-1] is not None:
        out.append(f"* With 64 processes U-Net/MM pinned at most "
                   f"{sc['pinned_kib']['unetmm'][-1] / 1024:.1f} MiB (the TLB's reach), "
                   f"base-level U-Net {sc['pinned_kib']['unet_base'][-1] / 1024:.0f} MiB.")
    return out


def print_table(res):
    for (setup, disc), key in TABLES.items():
        r = res[key]
        print(f"\n{setup}, {DISC_NAMES[disc]}: round trip us median (p99) | bandwidth MB/s"
              " (medians of the rounds)")
        print(f"{'':24}" + "".join(f"{'RTT ' + s:>17}" for s in LAT_SIZES)
              + "".join(f"{'BW ' + s:>10}" for s in BW_SIZES))
        for p in PEERS:
            cells = "".join(f"{fmt(r['rtt_us'][p][s]) + ' (' + fmt(r['rtt_p99_us'][p][s]) + ')':>17}"
                            for s in LAT_SIZES)
            cells += "".join(f"{fmt(r['bw_MBps'][p][s]):>10}" for s in BW_SIZES)
            print(f"{PEER_NAMES[p]:24}{cells}")
    print("\nmessage rate msg/s (busy-polling), 8 B / 64 B:")
    for setup in ("loopback", "wire"):
        m = res["msg_rate"][setup]
        print(f"  {setup:9}" + "".join(f"  {PEER_NAMES[p].split(' (')[0]}: "
                                        f"{fmt(m[p].get('8'))} / {fmt(m[p].get('64'))}"
                                        for p in PEERS))
    print(f"\nguest memcpy: warm (2 MiB) {fmt(res['memcpy_MBps'])} MB/s, "
          f"cold (64 MiB) {fmt(res['memcpy_cold_MBps'])} MB/s")
    print(f"checked runs passed: {res['checked_runs']}"
          + (f", FAILED: {len(res['checked_runs_failed'])}" if res["checked_runs_failed"] else ""))
    t = res["tlb"]
    print(f"TLB ({t['entries']} entries): RTT warm {fmt(t['hit_rtt_us'])} us, cold "
          f"{fmt(t['cold_rtt_us'])} us; miss resident {fmt(t['miss_resident_us'])} us, "
          f"fault-in {fmt(t['miss_fault_us'])} us, swapped {fmt(t['miss_swapped_us'])} us")
    sc = res["scaling"]
    print("pinned KiB at " + ", ".join(str(p) for p in sc["processes"]) + " processes:")
    for _, p in SCALE_PEERS:
        print(f"  {SCALE_NAMES[p]:24} " + " ".join(fmt(v) for v in sc["pinned_kib"][p]))
    print("MB/s at " + ", ".join(str(p) for p in sc["processes"]) + " processes:")
    for _, p in SCALE_PEERS:
        print(f"  {SCALE_NAMES[p]:24} " + " ".join(fmt(v) for v in sc["bw_MBps"][p]))
    print("\ntargets:")
    for a, b, c, d in target_rows(res):
        print(f"  {a:62} {b:>8}  {c:>8}  {d}")


if __name__ == "__main__":
    sys.exit(main())
