"""The PyPI `pgmq` client as the interop tests drive it: one JSON command on argv, one JSON
answer on stdout. Commands: send_batch(queue, messages, headers?), read(queue, vt, qty),
archive(queue, msg_ids)."""
import json
import os
import sys

from pgmq import PGMQueue


def main() -> None:
    command = json.loads(sys.argv[1])
    # pgmq is installed as SQL, not as an extension: do not CREATE EXTENSION.
    queue = PGMQueue(conn_string=os.environ["DATABASE_URL"], init_extension=False, pool_size=1)
    op = command["op"]
    if op == "send_batch":
        answer = queue.send_batch(command["queue"], command["messages"], headers=command.get("headers"))
    elif op == "read":
        messages = queue.read(command["queue"], vt=command["vt"], qty=command["qty"]) or []
        answer = [{"msg_id": m.msg_id, "read_ct": m.read_ct, "message": m.message, "headers": m.headers} for m in messages]
    elif op == "archive":
        answer = [queue.archive(command["queue"], msg_id) for msg_id in command["msg_ids"]]
    else:
        raise SystemExit(f"unknown op {op}")
    print(json.dumps(answer))
    queue.pool.close()


if __name__ == "__main__":
    main()
