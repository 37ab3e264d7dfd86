#!/usr/bin/env python3
"""Publish records to Spool with byte-counted PUB, pipelined.

Only the standard library: a socket, the text protocol, nothing else.

    python3 producer.py --topic orders --count 1000 --window 100
    printf 'one\ntwo\n' | python3 producer.py --topic orders --stdin

A pipelined producer writes a window of requests at once, then reads one reply per request; the
broker answers in request order, so reply i belongs to request i.
"""
import argparse
import sys
import socket


def publish_window(sock, replies, topic, values, key=None):
    """Send one PUB per value in a single write, then read one reply per PUB."""
    out = bytearray()
    for value in values:
        head = f"PUB {topic}" + (f" key={key}" if key else "") + f" {len(value)}\n"
        out += head.encode() + value + b"\n"  # byte count, the bytes, a line end
    sock.sendall(out)
    acks = []
    for _ in values:
        line = replies.readline().decode().rstrip("\r\n")
        if not line.startswith("OK "):  # e.g. "ERR UNKNOWN_TOPIC no topic named x"
            sys.exit(f"producer: {line or 'connection closed'}")
        _, _, partition, offset = line.split(" ")  # OK <topic> <partition> <offset>
        acks.append((int(partition), offset))
    return acks


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7070)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, default=10, help="records 'message 0'..'message N-1'")
    p.add_argument("--stdin", action="store_true", help="send each line of stdin instead")
    p.add_argument("--key", help="record key (a token without spaces)")
    p.add_argument("--window", type=int, default=100, help="requests in flight at once")
    p.add_argument("--create", type=int, metavar="PARTITIONS", help="create the topic first")
    args = p.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=30)
    replies = sock.makefile("rb")
    if args.create:
        sock.sendall(f"CREATE {args.topic} partitions={args.create}\n".encode())
        line = replies.readline().decode().rstrip("\r\n")
        if not (line.startswith("OK ") or line.startswith("ERR TOPIC_EXISTS")):
            sys.exit(f"producer: {line}")

    if args.stdin:
        values = [line.rstrip(b"\n") for line in sys.stdin.buffer]
    else:
        values = [f"message {i}".encode() for i in range(args.count)]
    sent = 0
    for start in range(0, len(values), args.window):
        window = values[start:start + args.window]
        acks = publish_window(sock, replies, args.topic, window, args.key)
        sent += len(acks)
    partition, offset = acks[-1] if values else (None, None)
    print(f"produced {sent} records (last: partition {partition} offset {offset})")
    sock.sendall(b"QUIT\n")
    sock.close()


if __name__ == "__main__":
    main()
