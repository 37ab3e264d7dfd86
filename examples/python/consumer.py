#!/usr/bin/env python3
"""Read every partition of a Spool topic with FETCH ... wait=, and print the records.

Only the standard library.

    python3 consumer.py --topic orders --from earliest
    python3 consumer.py --topic orders --count 1000    # stop after 1000 records

Each record arrives as "MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>", then
exactly <nbytes> bytes of value, then a line end; read the value by its count, never by line.
"""
import argparse
import sys
import socket


def reply_line(replies):
    line = replies.readline().decode().rstrip("\r\n")
    if not line or line.startswith("ERR "):  # e.g. "ERR UNKNOWN_TOPIC no topic named x"
        sys.exit(f"consumer: {line or 'connection closed'}")
    return line


def fetch(sock, replies, topic, partition, offset, wait_ms):
    """One FETCH: returns ([(offset, key, value)], next offset)."""
    sock.sendall(f"FETCH {topic} {partition} {offset} max=500 wait={wait_ms}\n".encode())
    records = []
    while True:
        line = reply_line(replies)
        if line.startswith("END "):  # END <topic> <partition> next=<n> high=<h>
            return records, int(line.split(" ")[3].removeprefix("next="))
        _, _, _, rec_offset, _, key, nbytes = line.split(" ")
        value = replies.read(int(nbytes))
        replies.readline()  # the line end after the value
        records.append((int(rec_offset), key, value))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7070)
    p.add_argument("--topic", required=True)
    p.add_argument("--from", dest="start", default="earliest", help="earliest, latest or an offset")
    p.add_argument("--count", type=int, help="stop after this many records")
    p.add_argument("--wait", type=int, default=500, help="ms a FETCH waits when there is nothing new")
    args = p.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=30 + args.wait / 1000)
    replies = sock.makefile("rb")
    sock.sendall(f"DESCRIBE {args.topic}\n".encode())
    partitions = int(reply_line(replies).split("partitions=")[1].split(" ")[0])
    while not reply_line(replies).startswith("END "):
        pass  # the PARTITION lines

    positions = {p: args.start for p in range(partitions)}
    seen = 0
    while args.count is None or seen < args.count:
        for partition in range(partitions):
            records, positions[partition] = fetch(
                sock, replies, args.topic, partition, positions[partition], args.wait // partitions or 1)
            for offset, key, value in records:
                print(f"{partition} {offset} {key} {value.decode(errors='backslashreplace')}", flush=True)
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
            if args.count is not None and seen >= args.count:
                break
    sock.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C is how a person stops it: no traceback
