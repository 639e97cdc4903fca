#!/usr/bin/env python3
"""Bucket a profile of zt-broker into the categories of issue 14.

Input: `perf script -F comm,tid,ip,sym,dso --no-inline` of a `perf record --call-graph dwarf`
of the broker (see benches/README.md, "Profiling the broker"). Each sample is put in the first
category whose rule matches, looking at its leaf frame, its whole call chain and its thread:

    perf script -i broker.perf.data -F comm,tid,ip,sym,dso --no-inline \\
        | python3 benches/broker/perf_buckets.py --cpu-per-cert 820

With --cpu-per-cert (the broker's CPU µs/cert from the bench line of the same run), the share
of each category is also given in µs per certificate. --show CATEGORY prints the commonest
leaf symbols of one category, to check or refine the rules.
"""

import argparse
import collections
import re
import sys

# (category, where to look, pattern), first match wins. "leaf": the sampled function;
# "chain": any frame of the call chain; "thread": the thread's name.
RULES = [
    ("kernel: interrupts (disk and network completions)", "chain",
     r"asm_common_interrupt|asm_sysvec_|handle_softirqs|irq_exit"),
    ("SQLite writer thread: kernel (pwrite, fsync, fcntl)", "thread+kernel", r"zt-store-writer"),
    ("SQLite writer thread: user (SQL, B-tree, WAL, records)", "thread", r"zt-store-writer"),
    ("logging (tracing, stderr)", "chain",
     r"tracing_subscriber|tracing_core::|tracing::|std::io::stdio|StderrLock"),
    ("RNG (getrandom, DRBG)", "chain",
     r"getrandom|RAND_bytes|CTR_DRBG|rand_core::os|OsRng|jent_|random_id|random_serial"),
    ("ES256 verify: access token", "leaf+chain", (r"ecp_nistz256|aws_lc_|^bn_|beeu|sha256",
                                                   r"verify_access_token|access_token::verify")),
    ("ES256 verify: DPoP proof", "leaf+chain", (r"ecp_nistz256|aws_lc_|^bn_|beeu|sha256",
                                                r"verify_proof|check_proof")),
    ("ES256: other (audit checkpoints, hashes)", "leaf", r"ecp_nistz256|aws_lc_|^bn_|beeu|sha256"),
    ("Ed25519 sign: CA key re-derived from its seed", "leaf+chain",
     (r"curve25519|ed25519|sha512|Sha512",
      r"TryFrom<&ssh_key::private::ed25519::Ed25519Keypair>|SigningKey as core::convert::From")),
    ("Ed25519 sign: the signature", "leaf+chain",
     (r"curve25519|ed25519|sha512|Sha512", r"try_sign|sign_user_certificate|Builder::sign")),
    ("Ed25519 verify: possession proof", "leaf+chain",
     (r"curve25519|ed25519|sha512|Sha512", r"verify_possession|SshSig|Verifier")),
    ("Ed25519: other (subject key parsing, fingerprints)", "leaf", r"curve25519|ed25519|sha512|Sha512"),
    ("allocation and copying (malloc, free, memcpy)", "leaf",
     r"(^|_)(malloc|free|realloc|calloc|cfree)(@.*)?$|_int_(malloc|free|realloc)|unlink_chunk|"
     r"malloc_consolidate|tcache|__mem(move|cpy|set)|__rust_(alloc|dealloc|realloc)|"
     r"RawVec.*(grow|reserve)|<alloc::vec::Vec<T,A> as core::clone::Clone>::clone"),
    ("JSON / JWT / SSH parsing and encoding", "chain",
     r"serde_json|serde::|jsonwebtoken|base64|zt_core::jose|decode_compact|verify_access_token|"
     r"verify_proof|verify_possession|from_openssh|to_openssh|ssh_encoding|pem_rfc7468|axum::json"),
    ("kernel: network, wake-ups, scheduling", "kernel", None),
    ("HTTP server and async runtime (hyper, tokio, axum, tower)", "leaf",
     r"hyper|tokio|axum|tower|mio::|http::|httparse|bytes::|futures|std::sync|parking_lot|"
     r"__lll_|pthread_|syscall|epoll|__libc_(send|recv|write|read)"),
]


def is_kernel(frame):
    return "[kernel.kallsyms]" in frame[1] or frame[0].startswith("0xffff")


def classify(thread, frames):
    if not frames:
        return "unknown"
    leaf = frames[0][0]
    for name, where, pattern in RULES:
        if where == "leaf" and re.search(pattern, leaf):
            return name
        if where == "chain" and any(re.search(pattern, f[0]) for f in frames):
            return name
        if where == "leaf+chain" and re.search(pattern[0], leaf) and any(
            re.search(pattern[1], f[0]) for f in frames
        ):
            return name
        if where == "thread" and re.search(pattern, thread):
            return name
        if where == "thread+kernel" and re.search(pattern, thread) and is_kernel(frames[0]):
            return name
        if where == "kernel" and is_kernel(frames[0]):
            return name
    return "other (broker logic: policy, key ID, audit record, …)"


def samples(lines):
    """(thread, [(symbol, dso), …] leaf first) per sample of `perf script`."""
    thread, frames = None, []
    frame = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$")
    for line in lines:
        if not line.strip():
            if thread is not None:
                yield thread, frames
            thread, frames = None, []
        elif line[0] not in " \t":
            thread = line.split()[0]
        else:
            m = frame.match(line)
            if m:
                frames.append((m.group(1), m.group(2)))
    if thread is not None:
        yield thread, frames


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-per-cert", type=float, help="the broker's CPU µs/cert")
    parser.add_argument("--show", help="print the commonest leaf symbols of this category")
    args = parser.parse_args()
    counts = collections.Counter()
    leaves = collections.Counter()
    for thread, frames in samples(sys.stdin):
        category = classify(thread, frames)
        counts[category] += 1
        if args.show and args.show in category and frames:
            leaves[frames[0][0][:120]] += 1
    total = sum(counts.values())
    if not total:
        sys.exit("no samples on stdin: pipe `perf script -F comm,tid,ip,sym,dso` into this")
    per_cert = args.cpu_per_cert
    print(f"| category | samples | share |{' µs/cert |' if per_cert else ''}")
    print(f"|---|---:|---:|{'---:|' if per_cert else ''}")
    for category, n in counts.most_common():
        share = n / total
        extra = f" {share * per_cert:.0f} |" if per_cert else ""
        print(f"| {category} | {n} | {100 * share:.1f} % |{extra}")
    extra = f" {per_cert:.0f} |" if per_cert else ""
    print(f"| total | {total} | 100 % |{extra}")
    for symbol, n in leaves.most_common(25):
        print(f"{n:6d}  {symbol}")


if __name__ == "__main__":
    main()
