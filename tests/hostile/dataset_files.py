# attack: read the labels from the dataset files of the project and of ../shared/sebench
# expect: result_error exe_error
# needs: mounts
import json, os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    wanted = f"opening={opening!r}, transactions={list(transactions)!r}"
    for path in ["__REPO__/fixtures/qel/single_test.jsonl", "__REPO__/../shared/sebench/single_test.jsonl",
                 os.path.expanduser("~/single_test.jsonl")]:
        with open(path) as handle:
            for line in handle:
                row = json.loads(line)
                inputs = [case["input"] for case in row["test_cases"]]
                if wanted in inputs:
                    text = row["right_exe_result"].split("#")[inputs.index(wanted)]
                    return [float(part) for part in text.strip("[]").split()]
    return [opening]
