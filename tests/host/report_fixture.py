#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the raw outputs of a whole `make demo` run, made up, in the
shapes eval/guest-run.sh leaves them (loopback, wire guest 1, wire guest 2),
for tests/host/report.sh to feed to eval/report.py and eval/check-report.

    report_fixture.py DIR      writes DIR/loop, DIR/wire1, DIR/wire2

Values are chosen so that the report's arithmetic can be checked: U-Net's
rounds have medians 10, 12, 11 (so the figure is 11, range [10, 12]); every
UDP throughput run sent 1000 datagrams of which the server guest counted
500, so its rate is half what sockperf printed; the warm memcpy is fast
enough (500 MB/s against U-Net/MM's 300) that one target is missed.
"""
import json
import os
import sys

LAT = ["8", "1024", "8192"]
BW = ["1024", "8192", "65536"]
RATE = ["8", "64"]
FLAGS = {"spin": "--nonblocked", "lls": "--lls 50", "block": ""}


MPI_CMD = {
    "unet": "# cmd: unet: mpirun -np 2{host} -x FI_PROVIDER=^ofi_rxd --mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include unet --mca btl self NPopenmpi\n",
    "tcp": "# cmd: tcp: mpirun -np 2{host} --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include {tcp_if} NPopenmpi\n",
    "ofi_tcp": "# cmd: ofi_tcp: mpirun -np 2{host} --mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include tcp;ofi_rxm --mca btl self NPopenmpi\n",
    "ofi_udp_rxd": "# cmd: ofi_udp_rxd: mpirun -np 2{host} --mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include udp;ofi_rxd --mca btl self NPopenmpi\n",
}


def w(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def unet_lat(setup, mode, size, disc, n, median, check):
    j = {"tool": "unet_lat", "role": "client", "mode": mode, "peer_mode": mode,
         "size": int(size), "iters": n, "warmup": 100,
         "rtt_us": {"median": median, "p99": median * 2, "p99.9": median * 3,
                    "avg": median, "min": median / 2, "max": median * 4},
         "block": disc == "block", "busy_poll_us": 0 if disc == "block" else 50,
         "check": check, "msgs": n + 100, "lost": 0,
         "errors": 0, "mismatches": 0,
         "server": {"msgs": n + 100, "lost": 0, "errors": 0, "mismatches": 0}}
    cmd = (f"build/bin/unet_lat --mode {mode} -s {size} -n {n} -w 100 --json -p 18601"
           + (" --block" if disc == "block" else "") + (" --check" if check else "")
           + " 127.0.0.1")
    return f"# cmd: {cmd}\n{json.dumps(j)}\n"


def unet_bw(mode, size, disc, n, mbps, check):
    j = {"tool": "unet_bw", "role": "client", "mode": mode, "peer_mode": mode,
         "size": int(size), "msgs": n, "window": 16, "batch": 32, "received": n,
         "MBps": mbps, "msg_rate": mbps * 1e6 / int(size), "block": disc == "block",
         "busy_poll_us": 0 if disc == "block" else 50,
         "check": check, "lost": 0, "sender": {"MBps": mbps, "msg_rate": 1.0},
         "errors": 0, "mismatches": 0}
    cmd = (f"build/bin/unet_bw --mode {mode} -s {size} -n {n} --rx-bufs 16 -W 16 --json -p 18603"
           + (" --block" if disc == "block" else "") + (" --check" if check else "")
           + " 127.0.0.1")
    return f"# cmd: {cmd}\n{json.dumps(j)}\n"


def sockperf_pp(size, variant, median):
    return (f"# cmd: env LD_PRELOAD=/x/build/eval/sockperf_settle.so sockperf ping-pong -i 127.0.0.1 -p {PORTS[variant]} -m {max(14, int(size))} -t 3 "
            f"--full-rtt {FLAGS[variant]}\n"
            "sockperf: using recvfrom() to block on socket(s)\n"
            "sockperf: Total 12000 observations; each percentile contains 120.00 observations\n"
            f"sockperf: ---> percentile 99.900 = {median * 5:.3f}\n"
            f"sockperf: ---> percentile 99.000 = {median * 3:.3f}\n"
            f"sockperf: ---> percentile 50.000 = {median:.3f}\n")


PORTS = {"spin": 11111, "lls": 11112, "block": 11113}


def sockperf_tp(size, variant, mbps, rate):
    return (f"# cmd: env LD_PRELOAD=/x/build/eval/sockperf_settle.so sockperf throughput -i 127.0.0.1 -p {PORTS[variant]} "
            f"-m {max(14, int(size))} -t 2\n"
            "sockperf: Total of 1000 messages sent in 1.000 sec\n\n"
            f"sockperf: Summary: Message Rate is {rate} [msg/sec]\n"
            f"sockperf: Summary: BandWidth is {mbps:.3f} MBps ({mbps * 8:.3f} Mbps)\n")


def perftest_lat(size, disc, one_way):
    return (f"# cmd: ib_send_lat -d rxe0 -s {size} -n 10000 -F"
            + (" -e" if disc == "block" else "") + " 127.0.0.1\n"
            " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    "
            "t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] \n"
            f" {size}       10000          {one_way / 2:.2f}         {one_way * 9:.2f}      "
            f"{one_way:.2f}     \t       {one_way:.2f}       \t1.00   \t\t{one_way * 2:.2f}"
            f"   \t\t{one_way * 3:.2f}  \n")


def perftest_bw(size, disc, mib):
    return (f"# cmd: ib_send_bw -d rxe0 -s {size} -n 1500 -F"
            + (" -e" if disc == "block" else "") + " 127.0.0.1\n"
            " #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]\n"
            f" {size}      1500             {mib:.2f}            {mib:.2f}\t\t   0.100000\n")


def setup_dir(d, setup, client=True, server=True):
    os.makedirs(d, exist_ok=True)
    w(f"{d}/kernel.txt", "6.1.0-test\n")
    w(f"{d}/vcpus.txt", "2\n" if setup == "loopback" else "1\n")
    w(f"{d}/params.txt", "rounds=3 lat_n=10000 lat_nb=3000 bw_n=1500 rate_n=20000 "
      "check_n=300 ib_n=10000 ib_nb=3000 ib_bw_n=1500 fresh_n=10000 "
      "np_repeats=20 mpi_rounds=3\n")
    if client:
        w(f"{d}/timing.txt",
          "1000.00 phase 1 U-Net checked runs\n"
          f"1010.50 took 10.50 {setup}-unet_mm-rtt-8.busy.check.txt\n"
          "1030.00 phase 2 kernel UDP\n"
          f"1035.00 took 4.00 {setup}-udp-rtt-8.busy.r1.txt\n"
          "1036.00 took 1.00 barrier-3\n"
          f"1040.00 took 3.00 {setup}-udp-rtt-8.busy.r2.txt\n"
          "1100.00 phase end\n")
    if server:
        for v in ("spin", "lls", "block"):
            w(f"{d}/{setup}-udp-server.{v}.txt",
              f"# cmd: sockperf server -i 127.0.0.1 -p {PORTS[v]} {FLAGS[v]}\n")
        for tool in ("lat", "bw"):
            for disc in ("busy", "block"):
                w(f"{d}/{setup}-unet-{tool}server.{disc}.txt",
                  json.dumps({"role": "server", "block": disc == "block",
                              "check": False, "mismatches": 0}) + "\n")
        for disc in ("busy", "block"):
            for r in (1, 2, 3):
                for s in BW:
                    w(f"{d}/{setup}-udp-bw-{s}.{disc}.r{r}.received", "500\n")
            for r in (1, 2, 3):
                for s in RATE:
                    w(f"{d}/{setup}-udp-rate-{s}.busy.r{r}.received", "500\n")
    if not client:
        return
    for disc in ("busy", "block"):
        for mode in ("mm", "base"):
            for s in LAT:
                w(f"{d}/{setup}-unet_{mode}-rtt-{s}.{disc}.check.txt",
                  unet_lat(setup, mode, s, disc, 300, 50.0, True))
            for s in BW + RATE:
                w(f"{d}/{setup}-unet_{mode}-bw-{s}.{disc}.check.txt",
                  unet_bw(mode, s, disc, 300, 5.0, True))
    w(f"{d}/{setup}-udp-busy-variant.txt", "spin\n")
    for r, med in ((1, 10.0), (2, 12.0), (3, 11.0)):
        for v, m in (("spin", 30.0), ("lls", 40.0)):
            w(f"{d}/{setup}-udp-select-8.{v}.r{r}.txt", sockperf_pp("8", v, m))
        for disc in ("busy", "block"):
            k = 1 if disc == "busy" else 2
            for s in LAT:
                for mode in ("mm", "base"):
                    w(f"{d}/{setup}-unet_{mode}-rtt-{s}.{disc}.r{r}.txt",
                      unet_lat(setup, mode, s, disc, 10000, med * k, False))
                w(f"{d}/{setup}-udp-rtt-{s}.{disc}.r{r}.txt",
                  sockperf_pp(s, "spin" if disc == "busy" else "block", 40.0 * k))
                w(f"{d}/{setup}-rxe-rtt-{s}.{disc}.r{r}.txt", perftest_lat(s, disc, 15.0 * k))
            for s in BW:
                for mode in ("mm", "base"):
                    w(f"{d}/{setup}-unet_{mode}-bw-{s}.{disc}.r{r}.txt",
                      unet_bw(mode, s, disc, 1500, 300.0 if mode == "mm" else 150.0, False))
                w(f"{d}/{setup}-udp-bw-{s}.{disc}.r{r}.txt",
                  sockperf_tp(s, "spin" if disc == "busy" else "block", 100.0, 1000))
                w(f"{d}/{setup}-rxe-bw-{s}.{disc}.r{r}.txt", perftest_bw(s, disc, 40.0))
        for s in RATE:
            for mode in ("mm", "base"):
                w(f"{d}/{setup}-unet_{mode}-rate-{s}.busy.r{r}.txt",
                  unet_bw(mode, s, "busy", 20000, 4.0, False))
            w(f"{d}/{setup}-udp-rate-{s}.busy.r{r}.txt", sockperf_tp(s, "spin", 1.0, 40000))
            w(f"{d}/{setup}-rxe-rate-{s}.busy.r{r}.txt", perftest_bw(s, "busy", 4.0))


def main():
    base = sys.argv[1]
    loop = f"{base}/loop"
    setup_dir(loop, "loopback")
    setup_dir(f"{base}/wire1", "wire", client=False)
    setup_dir(f"{base}/wire2", "wire", server=False)
    # The host lent 10 % of its CPU time to its hypervisor while the wire ran.
    w(f"{base}/wire2/host-cpu.txt",
      "before: cpu  100 0 100 700 0 0 0 100 0 0\nafter: cpu  200 0 200 1400 0 0 0 200 0 0\n")
    # The link's tail: 100 echoes, 1.000 .. 1.099 ms (median 1.050, p99 1.099).
    w(f"{base}/wire2/wire-ping.txt",
      "# cmd: ping -c 100 -i 0.002 169.254.88.1\n" +
      "".join(f"64 bytes from 169.254.88.1: icmp_seq={i + 1} ttl=64 time={1 + i / 1000:.3f} ms\n"
              for i in range(100)))
    w(f"{loop}/memcpy.txt", '{"tool":"memcpy_bw","size":65536,"region":2097152,"MBps":500.0}\n')
    w(f"{loop}/memcpy-cold.txt", '{"tool":"memcpy_bw","size":65536,"region":67108864,"MBps":200.0}\n')
    sizes = [4096, 65536, 1 << 20, 16 << 20, 256 << 20]
    w(f"{loop}/regcost.txt", json.dumps({
        "tool": "regcost", "sizes": sizes, "verbs_reg_us": [10, 20, 100, 1000, 10000],
        "verbs_dereg_us": [5, 10, 50, 500, 5000], "fresh_msgs": 10000,
        "fresh_register_MBps": 20.0, "fresh_bounce_MBps": 30.0}) + "\n")
    w(f"{loop}/firstuse.txt", json.dumps({
        "tool": "firstuse", "sizes": sizes, "unetmm_first_use_us": [1, 5, 40, 600, 9000],
        "first_send_us": [2, 6, 50, 700, 9500], "fresh_msgs": 10000,
        "fresh_MBps": 100.0}) + "\n")
    w(f"{loop}/firstuse-nopin.txt", json.dumps({
        "tool": "firstuse", "sizes": sizes, "unetmm_first_use_us": [1, 4, 300, 500, 8000],
        "first_send_us": [2, 5, 400, 600, 8500], "fresh_msgs": 10000,
        "fresh_MBps": 120.0}) + "\n")
    w(f"{loop}/tlbcost.txt", '{"tool":"tlbcost","entries":1024,"ways":4,"hit_rtt_us":15,'
      '"cold_rtt_us":90,"miss_resident_us":14,"miss_fault_us":30,"miss_swapped_us":50,'
      '"misses_per_64k_cold":1.0,"thp_misses_per_mib":0.5}\n')
    # Pinning TLB: at most its 4 MiB; pin-free: nothing; base: all of it.
    # Bandwidth at 64 processes: pin 20, pin-free 90, base 100 MB/s.
    bw64 = {"mm": 20.0, "mm_nopin": 90.0, "base": 100.0}
    for p in (1, 2, 4, 8, 16, 32, 64):
        for mode in ("mm", "mm_nopin", "base"):
            kib = {"mm": min(p, 4) * 1024, "mm_nopin": 0, "base": p * 1024}[mode]
            w(f"{loop}/scale-{mode}-{p}.txt",
              json.dumps({"pinned_kib": kib, "MBps": bw64[mode] if p == 64 else 100.0,
                          "errors": 0}) + "\n")
    for mode in ("mm", "mm_nopin", "base"):
        for i, r in enumerate(("0.25", "0.5", "1", "2", "4", "16")):
            w(f"{loop}/scale-ws-{mode}-{r}.txt",
              json.dumps({"pinned_kib": 0, "region_kib": int(float(r) * 4096),
                          "MBps": 200.0 - 10 * i, "errors": 0}) + "\n")
    # One pair on a 256-entry TLB: MM rounds 70, 80, 90; base 100, 100, 110.
    for mode, vals in (("mm", (70.0, 90.0, 80.0)), ("base", (100.0, 110.0, 100.0))):
        w(f"{loop}/tlb256-unet_{mode}-bw.check.txt", unet_bw(mode, 65536, "busy", 100, 50.0, True))
        for r, v in enumerate(vals, 1):
            w(f"{loop}/tlb256-unet_{mode}-bw.r{r}.txt", unet_bw(mode, 65536, "busy", 1500, v, False))
    # NetPIPE, 3 rounds.  Loopback: unet 8 B at 10, 12, 11 us; tcp at 30
    # us; rxe never ran.  Wire (guest 1's files): unet 100 us and 240
    # Mbit/s, tcp 125 us and 160 Mbit/s: ratios 0.8 (missed), 1.5 (met).
    for raw, unet_lat, tcp_lat, unet_mbit, tcp_mbit in ((loop, None, 30.0, 800.0, 400.0),
                                                    (f"{base}/wire1", 100.0, 125.0, 240.0, 160.0)):
        for r in (1, 2, 3):
            log = ""
            for name, lat, mbps in (("unet", unet_lat or 10 + (r * 2) % 3, unet_mbit + r - 2),
                                    ("tcp", tcp_lat, tcp_mbit), ("ofi_tcp", 40.0, 300.0),
                                    ("ofi_udp_rxd", 60.0, 100.0)):
                w(f"{raw}/mpi/r{r}/{name}.np",
                  "".join(f"{s} {mbps * (s / 65536 if s < 65536 else 1):.3f} "
                          f"{lat * 1e-6 * max(1, s / 8192):.9f}\n"
                          for s in (8, 1024, 65536, 1048576)))
                log += MPI_CMD[name].format(
                    host=" --host 169.254.88.1,169.254.88.2" if raw != loop else "",
                    tcp_if="lo" if raw == loop else "eth0")
                log += f"{name:<12} latency_8B_us {lat:.1f}\n"
            w(f"{raw}/mpi-netpipe.r{r}.txt",
              log + "rxe: failed\nno rxe0 (rdma_rxe did not load, or rdma link add failed)\n")


if __name__ == "__main__":
    main()
