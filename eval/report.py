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
PEERS = ["unetmm", "unet_base", "udp", "rxe"]
PEER_NAMES = {
    "unetmm": "U-Net/MM",
    "unet_base": "base-level U-Net",
    "udp": "kernel UDP (sockperf)",
    "rxe": "Soft-RoCE (perftest)",
}
PROCS = [1, 2, 4, 8, 16, 32, 64]
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


def sockperf_rtt(path):
    text = read(path)
    if not text:
        return missing("UDP round trip", path), None
    p50 = re.search(r"percentile 50\.000 =\s*([\d.]+)", text)
    p99 = re.search(r"percentile 99\.000 =\s*([\d.]+)", text)
    if not p50:
        return missing("UDP round trip", path), None
    return float(p50.group(1)), float(p99.group(1)) if p99 else None


def sockperf_bw(client_path, server_path, size):
    """Bandwidth that arrived: the sender's rate scaled by the fraction of
    datagrams the server counted (UDP has no flow control)."""
    client, server = read(client_path), read(server_path)
    if not client:
        return missing("UDP throughput", client_path)
    bw = re.search(r"BandWidth is ([\d.]+) MBps", client)
    sent = re.search(r"SentMessages=(\d+)", client)
    if not bw:
        return missing("UDP throughput", client_path)
    rate = float(bw.group(1)) * MIB
    if server and sent:
        got = re.search(r"Total (\d+) messages received", server)
        if got and int(sent.group(1)) > 0:
            rate *= min(1.0, int(got.group(1)) / int(sent.group(1)))
    return rate


def perftest_lat(path):
    """ib_send_lat reports one-way latency (half the round trip)."""
    text = read(path)
    if not text:
        return missing("Soft-RoCE round trip", path), None
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].isdigit() and len(f) >= 9:
            try:
                return 2 * float(f[4]), 2 * float(f[7])
            except ValueError:
                pass
    return missing("Soft-RoCE round trip", path), None


def perftest_bw(path):
    text = read(path)
    if not text:
        return missing("Soft-RoCE bandwidth", path)
    for line in text.splitlines():
        f = line.split()
        if len(f) == 5 and f[0].isdigit():
            return float(f[3]) * MIB
    return missing("Soft-RoCE bandwidth", path)


def setup_results(raw, setup):
    res = {k: {p: {} for p in PEERS} for k in ("rtt_us", "rtt_p99_us", "bw_MBps")}
    for s in LAT_SIZES:
        for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
            # The median round of three (guest-run.sh), each round's own
            # median and p99.
            path = f"{raw}/{setup}-unet_{mode}-rtt-{s}.r*.txt"
            runs = [tool_json(p) for p in sorted(glob.glob(path))]
            runs = [j for j in runs if j and j.get("errors", 0) == 0
                    and j.get("mismatches", 0) == 0]
            if not runs:
                res["rtt_us"][peer][s] = missing(
                    f"{setup} {PEER_NAMES[peer]} {s} B round trip", path)
                res["rtt_p99_us"][peer][s] = None
                continue
            res["rtt_us"][peer][s] = statistics.median(
                j["rtt_us"]["median"] for j in runs)
            res["rtt_p99_us"][peer][s] = statistics.median(
                j["rtt_us"]["p99"] for j in runs)
        med, p99 = sockperf_rtt(f"{raw}/{setup}-udp-rtt-{s}.txt")
        res["rtt_us"]["udp"][s], res["rtt_p99_us"]["udp"][s] = med, p99
        med, p99 = perftest_lat(f"{raw}/{setup}-rxe-rtt-{s}.txt")
        res["rtt_us"]["rxe"][s], res["rtt_p99_us"]["rxe"][s] = med, p99
    for s in BW_SIZES:
        for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
            path = f"{raw}/{setup}-unet_{mode}-bw-{s}.txt"
            j = tool_json(path)
            ok = j and j.get("errors", 0) == 0 and j.get("mismatches", 0) == 0
            res["bw_MBps"][peer][s] = j["MBps"] if ok else missing(
                f"{setup} {PEER_NAMES[peer]} {s} B bandwidth", path)
            if ok and j.get("lost"):
                notes.append(f"{setup} {PEER_NAMES[peer]} {s} B bandwidth: "
                             f"{j['lost']} of {j['msgs']} messages lost on the way "
                             "(counted by the NIC); the rate is what arrived")
        res["bw_MBps"]["udp"][s] = sockperf_bw(
            f"{raw}/{setup}-udp-bw-{s}.txt",
            f"{raw}/{setup}-udp-bwrecv-{s}.txt", s)
        res["bw_MBps"]["rxe"][s] = perftest_bw(f"{raw}/{setup}-rxe-bw-{s}.txt")
    return res


def merge_wire(client_raw, server_raw):
    """The client guest holds the client outputs; the server guest the
    UDP receive counts."""
    for f in os.listdir(server_raw) if os.path.isdir(server_raw) else []:
        if "-udp-bwrecv-" in f and os.path.isdir(client_raw):
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
    """series: list of (label, [(x, y), ...])."""
    data = os.path.join(out, f".{name}.dat")
    blocks = []
    for label, pts in series:
        pts = [(x, y) for x, y in pts if y is not None]
        blocks.append((label, pts))
    with open(data, "w") as f:
        for label, pts in blocks:
            f.write(f"# {label}\n")
            for x, y in pts:
                f.write(f"{x} {y}\n")
            f.write("\n\n")
    plots = []
    for i, (label, pts) in enumerate(blocks):
        if pts:
            plots.append(f"'{data}' index {i} using 1:2 with linespoints "
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
    res = {
        "env": {
            "accel": accel,
            "guest_kernel": kernel,
            "vcpus_per_guest": int((read(f"{loop_raw}/vcpus.txt") or "2").strip() or 2),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "loopback": setup_results(loop_raw, "loopback"),
        "wire": setup_results(wire2_raw, "wire"),
    }
    m = tool_json(f"{loop_raw}/memcpy.txt")
    res["memcpy_MBps"] = m["MBps"] if m else missing("memcpy", f"{loop_raw}/memcpy.txt")
    t = tool_json(f"{loop_raw}/tlbcost.txt") or {}
    if not t:
        missing("TLB costs", f"{loop_raw}/tlbcost.txt")
    if t.get("swapped_note"):
        notes.append(f"TLB miss on a swapped-out page: {t['swapped_note']}")
    res["tlb"] = {k: t.get(k) for k in ("entries", "hit_rtt_us", "cold_rtt_us",
                                        "miss_resident_us", "miss_fault_us",
                                        "miss_swapped_us")}
    sc = {"processes": PROCS, "pinned_kib": {"unetmm": [], "unet_base": []},
          "bw_MBps": {"unetmm": [], "unet_base": []}}
    for mode, peer in (("mm", "unetmm"), ("base", "unet_base")):
        for p in PROCS:
            path = f"{loop_raw}/scale-{mode}-{p}.txt"
            j = tool_json(path)
            if not j:
                missing(f"scaling {peer} {p} processes", path)
            elif j.get("errors"):
                notes.append(f"scaling {PEER_NAMES[peer]} {p} processes: "
                             f"{j['errors']} messages arrived with an error status")
            sc["pinned_kib"][peer].append(j["pinned_kib"] if j else None)
            sc["bw_MBps"][peer].append(j["MBps"] if j else None)
    res["scaling"] = sc

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    plots = []
    for setup in ("loopback", "wire"):
        r = res[setup]
        plots.append(plot(out, f"latency-{setup}",
                          f"Round trip, {setup} (median)", "message size (bytes)",
                          "round trip (us)",
                          [(PEER_NAMES[p], [(int(s), r["rtt_us"][p][s]) for s in LAT_SIZES])
                           for p in PEERS], logy=True, xtics=LAT_SIZES))
        plots.append(plot(out, f"bandwidth-{setup}",
                          f"Bandwidth, {setup}", "message size (bytes)", "MB/s",
                          [(PEER_NAMES[p], [(int(s), r["bw_MBps"][p][s]) for s in BW_SIZES])
                           for p in PEERS] +
                          ([("guest memcpy", [(int(s), res["memcpy_MBps"]) for s in BW_SIZES])]
                           if setup == "loopback" else []),
                          xtics=BW_SIZES))
    plots.append(plot(out, "pinned-memory",
                      "Pinned memory, N processes streaming from 1 MiB each",
                      "processes", "pinned memory (KiB)",
                      [(PEER_NAMES[p], list(zip(PROCS, sc["pinned_kib"][p])))
                       for p in ("unetmm", "unet_base")], logy=True,
                      xtics=[str(p) for p in PROCS]))
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
    return 0


def table(res, setup):
    r = res[setup]
    rows = ["| | " + " | ".join(f"RTT {s} B (p99)" for s in LAT_SIZES) + " | "
            + " | ".join(f"BW {s} B" for s in BW_SIZES) + " |",
            "|---|" + "---|" * (len(LAT_SIZES) + len(BW_SIZES))]
    for p in PEERS:
        cells = [f"{fmt(r['rtt_us'][p][s])} ({fmt(r['rtt_p99_us'][p][s])})"
                 for s in LAT_SIZES]
        cells += [fmt(r["bw_MBps"][p][s]) for s in BW_SIZES]
        rows.append(f"| {PEER_NAMES[p]} | " + " | ".join(cells) + " |")
    return rows


def targets(res):
    lb = res["loopback"]
    mm8 = lb["rtt_us"]["unetmm"]["8"]
    out = []

    def check(name, value, limit, better="lower"):
        if value is None:
            out.append(f"| {name} | — | {limit} | not measured |")
            return
        ok = value <= limit if better == "lower" else value >= limit
        out.append(f"| {name} | {value:.2f} | {'≤' if better == 'lower' else '≥'} {limit} "
                   f"| {'met' if ok else 'missed'} |")

    check("loopback 8 B RTT, U-Net/MM ÷ UDP", ratio(mm8, lb["rtt_us"]["udp"]["8"]), 0.5)
    check("loopback 8 B RTT, U-Net/MM ÷ Soft-RoCE", ratio(mm8, lb["rtt_us"]["rxe"]["8"]), 0.5)
    check("warm-TLB RTT ÷ base-level RTT (8 B)",
          ratio(mm8, lb["rtt_us"]["unet_base"]["8"]), 1.05)
    check("64 KiB loopback BW, U-Net/MM ÷ base-level",
          ratio(lb["bw_MBps"]["unetmm"]["65536"], lb["bw_MBps"]["unet_base"]["65536"]),
          1.5, "higher")
    check("64 KiB loopback BW, U-Net/MM ÷ guest memcpy",
          ratio(lb["bw_MBps"]["unetmm"]["65536"], res["memcpy_MBps"]), 0.7, "higher")
    sc = res["scaling"]
    pin_mm = sc["pinned_kib"]["unetmm"][-1]
    cap = (res["tlb"]["entries"] or 0) * 4
    if pin_mm is not None and cap:
        out.append(f"| pinned at 64 processes, U-Net/MM ÷ TLB capacity | "
                   f"{pin_mm / cap:.2f} | ≤ 1 | {'met' if pin_mm <= cap else 'missed'} |")
    pin_b = sc["pinned_kib"]["unet_base"][-1]
    if pin_b is not None:
        out.append(f"| pinned at 64 processes, base-level (MiB) | {pin_b / 1024:.0f} | "
                   f"64 expected | {'as expected' if pin_b >= 64 * 1024 else 'lower than expected'} |")
    return out


def report_md(res, plots):
    e = res["env"]
    L = ["# U-Net/MM evaluation", "",
         f"Run {e['date']}: guests on **{e['accel'].upper()}** "
         f"(kernel {e['guest_kernel']}; {e['vcpus_per_guest']} vCPUs in the loopback guest, "
         f"{WIRE_VCPUS[0]} in each wire guest, so that two guests of busy-polling vCPUs do "
         "not oversubscribe the host's cores). "
         "Every peer ran in the same guests in the same run.  Under TCG every "
         "instruction is emulated: absolute times are many times those of real "
         "hardware, so read the ratios, not the microseconds.", "",
         "Round trips are medians (99th percentile in parentheses) in "
         "microseconds; bandwidths are MB/s (10^6 bytes/s) of data that arrived.", ""]
    for setup, what in (("loopback", "two processes in one guest"),
                        ("wire", "two guests joined by virtio-net")):
        L += [f"## {setup.capitalize()}: {what}", ""] + table(res, setup) + [""]
    L += ["## Targets", "", "| target | measured | goal | |", "|---|---|---|---|"]
    L += targets(res) + [""]
    t = res["tlb"]
    L += ["## The TLB", "",
          f"{t['entries']} entries.  Round trip of a 1 KiB message through the loopback "
          f"path: {fmt(t['hit_rtt_us'])} us with the TLB warm, {fmt(t['cold_rtt_us'])} us when "
          "every buffer misses.  Agent service time of one miss (from the NIC posting it to "
          f"the translation installed): {fmt(t['miss_resident_us'])} us for a resident page, "
          f"{fmt(t['miss_fault_us'])} us for a page faulted in on first touch, "
          f"{fmt(t['miss_swapped_us'])} us for a page swapped out to zram.", ""]
    sc = res["scaling"]
    L += ["## Pinned memory", "",
          "| processes | " + " | ".join(str(p) for p in sc["processes"]) + " |",
          "|---|" + "---|" * len(sc["processes"]),
          "| U-Net/MM pinned KiB | " + " | ".join(fmt(v) for v in sc["pinned_kib"]["unetmm"]) + " |",
          "| base-level pinned KiB | " + " | ".join(fmt(v) for v in sc["pinned_kib"]["unet_base"]) + " |",
          "| U-Net/MM MB/s | " + " | ".join(fmt(v) for v in sc["bw_MBps"]["unetmm"]) + " |",
          "| base-level MB/s | " + " | ".join(fmt(v) for v in sc["bw_MBps"]["unet_base"]) + " |",
          ""]
    L += ["## Reading", ""] + reading(res) + [""]
    if notes:
        L += ["## Missing or qualified values", ""] + [f"* {n}" for n in notes] + [""]
    L += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    L += ["## How each number was made", "",
          "* On loopback every peer's server runs on vCPU 0 and its client on vCPU 1 "
          "(`taskset`), so that a round trip never depends on the two sharing a vCPU.",
          "* U-Net/MM and base-level U-Net: `build/bin/unet_lat` and `build/bin/unet_bw` "
          "(`--mode mm|base`); base-level copies data into and out of its segment, as an "
          "application without U-Net/MM must.  Round trips: three rounds with the two "
          "modes taking turns, the median round reported.",
          "* UDP: `sockperf ping-pong --full-rtt` and `sockperf throughput`, busy-polling "
          "(`-F e --timeout 0`) like the other peers; 8 B uses sockperf's smallest message (14 B) "
          "and 64 KiB its largest datagram (65507 B); throughput counts what the server received.",
          "* Soft-RoCE: `rdma link add rxe0 type rxe netdev eth0`, `ib_send_lat` (its one-way "
          "latency doubled into a round trip) and `ib_send_bw`; perftest's MB are 2^20 bytes, "
          "converted.",
          "* memcpy: `build/eval/memcpy_bw`, 64 KiB blocks over a 64 MiB region.",
          "* TLB: `build/eval/tlbcost`; pinned memory: `build/eval/scale` (peak of the NIC's "
          "pinned-page counter for U-Net/MM, of its segment-page counter for base-level).",
          "* Raw outputs: `build/guest/out/demo-*/guest*/raw/`."]
    return L


def reading(res):
    lb, w = res["loopback"], res["wire"]
    out = []
    mm8, b8 = lb["rtt_us"]["unetmm"]["8"], lb["rtt_us"]["unet_base"]["8"]
    udp8, rxe8 = lb["rtt_us"]["udp"]["8"], lb["rtt_us"]["rxe"]["8"]
    if mm8 and udp8:
        out.append(f"* Small messages: U-Net/MM's loopback round trip is {mm8 / udp8:.2f}× "
                   "the kernel UDP path's: one doorbell system call per message and no "
                   "socket layer, against two trips through the UDP/IP stack.")
    if mm8 and rxe8:
        out.append(f"* Against Soft-RoCE, a verbs stack over the same kind of software NIC, "
                   f"U-Net/MM's 8 B round trip is {mm8 / rxe8:.2f}× as long: rxe "
                   "encapsulates in UDP/IP and runs its state machines in tasklets.")
    if mm8 and b8:
        out.append(f"* Warm-TLB U-Net/MM costs {100 * (mm8 / b8 - 1):+.0f} % against "
                   "base-level U-Net at 8 B: inline messages need no translation at all.")
    bm, bb = lb["bw_MBps"]["unetmm"]["65536"], lb["bw_MBps"]["unet_base"]["65536"]
    if bm and bb and res["memcpy_MBps"]:
        out.append(f"* 64 KiB loopback bandwidth: U-Net/MM {bm:.0f} MB/s, {bm / bb:.2f}× "
                   f"base-level U-Net ({bb:.0f} MB/s, which copies into and out of its "
                   f"segment) and {bm / res['memcpy_MBps']:.2f}× a plain memcpy in the guest "
                   f"({res['memcpy_MBps']:.0f} MB/s): U-Net/MM moves each byte once, from the "
                   "sender's page to the receiver's.")
    wm = w["rtt_us"]["unetmm"]["8"]
    if wm and mm8:
        out.append(f"* Across the wire the round trip grows to {wm:.0f} us: two virtio-net "
                   "devices and the QEMU socket between the guests dominate.")
    sc = res["scaling"]
    if sc["pinned_kib"]["unetmm"][-1] is not None and sc["pinned_kib"]["unet_base"][-1] is not None:
        out.append(f"* With 64 processes U-Net/MM pinned at most "
                   f"{sc['pinned_kib']['unetmm'][-1] / 1024:.1f} MiB (the TLB's reach), "
                   f"base-level U-Net {sc['pinned_kib']['unet_base'][-1] / 1024:.0f} MiB. "
                   "The price is misses: once the processes' buffers exceed the TLB's reach, "
                   "U-Net/MM's aggregate bandwidth falls as the agent re-pins pages.")
    return out


def print_table(res):
    for setup in ("loopback", "wire"):
        r = res[setup]
        print(f"\n{setup}: round trip us median (p99) | bandwidth MB/s")
        print(f"{'':24}" + "".join(f"{'RTT ' + s:>17}" for s in LAT_SIZES)
              + "".join(f"{'BW ' + s:>10}" for s in BW_SIZES))
        for p in PEERS:
            cells = "".join(f"{fmt(r['rtt_us'][p][s]) + ' (' + fmt(r['rtt_p99_us'][p][s]) + ')':>17}"
                            for s in LAT_SIZES)
            cells += "".join(f"{fmt(r['bw_MBps'][p][s]):>10}" for s in BW_SIZES)
            print(f"{PEER_NAMES[p]:24}{cells}")
    print(f"\nguest memcpy: {fmt(res['memcpy_MBps'])} MB/s")
    t = res["tlb"]
    print(f"TLB ({t['entries']} entries): RTT warm {fmt(t['hit_rtt_us'])} us, cold "
          f"{fmt(t['cold_rtt_us'])} us; miss resident {fmt(t['miss_resident_us'])} us, "
          f"fault-in {fmt(t['miss_fault_us'])} us, swapped {fmt(t['miss_swapped_us'])} us")
    sc = res["scaling"]
    print("pinned KiB at " + ", ".join(str(p) for p in sc["processes"]) + " processes:")
    print("  U-Net/MM   " + " ".join(fmt(v) for v in sc["pinned_kib"]["unetmm"]))
    print("  base-level " + " ".join(fmt(v) for v in sc["pinned_kib"]["unet_base"]))
    print("\ntargets:")
    for row in targets(res):
        cells = [c.strip() for c in row.strip("|").split("|")]
        print(f"  {cells[0]:52} {cells[1]:>8}  {cells[2]:>8}  {cells[3]}")


if __name__ == "__main__":
    sys.exit(main())
