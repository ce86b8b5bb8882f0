# attack: search the whole file system for anything named like the benchmark's files
# expect: result_error exe_error
# needs: mounts
import os


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    hits = []
    for top in os.listdir("/"):
        if top in ("proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc"):
            continue
        for folder, subfolders, files in os.walk("/" + top):
            if folder.count("/") > 6:
                subfolders[:] = []
            hits += [os.path.join(folder, name) for name in files if "single_test" in name or "secret" in name]
    return hits
