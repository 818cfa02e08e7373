"""A webhook flood for the QEMU checks (plug-check.sh, update-check.sh): inbound texts posted
one after another to the VM's forwarded webhook port, each with a new message id, and the id of
every one answered 2xx appended to ACKED (what vm_check_data later finds stored).

    flood.py PORT SECRET PREFIX ACKED                       # stops at the first refused or cut
                                                            # connection: the VM is gone
    flood.py PORT SECRET PREFIX ACKED --until STOP REPORT   # a refused or cut one is counted and
                                                            # the next id tried; stops when the
                                                            # file STOP exists, counts in REPORT
"""
import http.client
import json
import os
import sys
import time


def post(port, secret, message, n):
    """The status of one webhook, or None when the connection was refused or cut."""
    body = json.dumps({"type": "InboundMessage", "messageId": message, "contactId": f"c{n % 40}",
                       "conversationId": f"conv{n % 40}", "messageType": "SMS", "body": "the pool is green"})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/webhook/ghl", body, {"X-NTPP-Secret": secret, "Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


def main(argv):
    if not (len(argv) == 5 or (len(argv) == 8 and argv[5] == "--until")):
        sys.exit(__doc__)
    port, secret, prefix, acked = int(argv[1]), argv[2], argv[3], argv[4]
    until = argv[6:8] if len(argv) == 8 else None
    n = ok = refused = other = 0
    with open(acked, "a") as out:
        while until is None or not os.path.exists(until[0]):
            n += 1
            message = f"{prefix}-{n}"
            status = post(port, secret, message, n)
            if status is None:
                if until is None:
                    break
                refused += 1
                time.sleep(0.3)
                continue
            if 200 <= status < 300:
                ok += 1
                out.write(message + "\n")
                out.flush()
            else:
                other += 1
            if until is not None:
                time.sleep(0.05)
    if until is not None:
        with open(until[1], "w") as report:
            report.write(f"{n} sent, {ok} acknowledged, {refused} refused or cut, {other} other answers\n")


if __name__ == "__main__":
    main(sys.argv)
