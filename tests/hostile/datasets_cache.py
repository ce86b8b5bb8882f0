# attack: read the datasets cache (Hugging Face) where the hub copy of SE-Bench would be
# expect: result_error exe_error
# needs: mounts
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    for root in ("__HF_CACHE__", os.path.expanduser("~/.cache/huggingface")):
        for folder, _, files in os.walk(root):
            for name in files:
                with open(os.path.join(folder, name), errors="replace") as handle:
                    return handle.read()
    raise FileNotFoundError("no datasets cache visible")
