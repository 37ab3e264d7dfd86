#!/usr/bin/env python3
"""Join a Spool consumer group and print what this member is given.

Only the standard library. Run several with the same --group to share the partitions (a worker
pool); run them with different --group names and each group gets every record (fan-out).

    python3 group_consumer.py --topic jobs --group workers            # in three terminals
    python3 group_consumer.py --topic jobs --group audit --count 100

Pushed lines: ASSIGNED/REVOKED <topic> <p,p,...> group=<g> generation=<n>, and records as
MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>, the value, a line end.
With --manual it commits (COMMIT <topic> <partition> <offset+1>) after each record it printed.
It waits for records as long as it takes; Ctrl-C stops it (exit status 130, no traceback).
"""
import argparse
import socket
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7070)
    p.add_argument("--topic", required=True, help="one topic, or several separated by commas")
    p.add_argument("--group", required=True)
    p.add_argument("--from", dest="start", default="earliest", help="where a group with no commits starts")
    p.add_argument("--count", type=int, help="stop after this many records")
    p.add_argument("--manual", action="store_true", help="commit=manual: COMMIT after each record")
    p.add_argument("--name", default="", help="a label to print in front of each line")
    args = p.parse_args()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=10)
    except OSError as error:
        sys.exit(f"group_consumer: cannot connect to {args.host}:{args.port}: {error.strerror or error}")
    # The timeout was for connecting; a member may wait any time for its next record.
    sock.settimeout(None)
    replies = sock.makefile("rb")
    commit = "manual" if args.manual else "auto"
    sock.sendall(f"SUB {args.topic} group={args.group} from={args.start} commit={commit}\n".encode())
    ok = replies.readline().decode().rstrip("\r\n")
    if not ok.startswith("OK "):
        sys.exit(f"group_consumer: {ok or 'connection closed'}")
    print(f"{args.name}{ok}", flush=True)

    seen = 0
    while args.count is None or seen < args.count:
        line = replies.readline().decode().rstrip("\r\n")
        if not line:
            sys.exit("group_consumer: connection closed")
        if line.startswith("ERR "):
            sys.exit(f"group_consumer: {line}")
        if line.startswith(("ASSIGNED ", "REVOKED ")):
            print(f"{args.name}{line}", flush=True)
            continue
        if line.startswith("OK committed "):
            continue
        _, topic, partition, offset, _, key, nbytes = line.split(" ")
        value = replies.read(int(nbytes))
        replies.readline()
        print(f"{args.name}{topic} {partition} {offset} {key} {value.decode(errors='replace')}", flush=True)
        if args.manual:
            # Pipelined: the OK comes back later and is skipped above.
            sock.sendall(f"COMMIT {topic} {partition} {int(offset) + 1}\n".encode())
        seen += 1
    sock.sendall(b"QUIT\n")  # a clean leave: commit=auto members commit what they were sent
    # Read to the end (the replies to the COMMITs, records already on their way, OK bye): closing
    # with unread bytes would reset the connection, and the broker could drop the last COMMITs.
    while replies.read(65536):
        pass


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops a member: no traceback. The socket closes on exit, which
        # is a leave without a last commit (records this member had not printed yet may still
        # sit in its socket): the next owner carries on from the group's last commit.
        sys.exit(130)
