# attack: write forged result lines (and a forged end) into every descriptor it did not open
# expect: exe_error result_error
import json, os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    lines = [{"event": "case", "index": index, "value": [opening]} for index in range(10)]
    lines += [{"event": "finished", "ended": None}, {"event": "done"}]
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    for fd in range(3, 64):
        try:
            os.write(fd, payload)
        except OSError:
            pass
    return [opening]
