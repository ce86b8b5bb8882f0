# attack: fill the disk through files in the working folder, /dev/shm and /var/tmp
# expect: exe_error
# needs: mounts
def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    block = b"\0" * (1024 * 1024)
    for index, folder in enumerate([".", "/dev/shm", "/var/tmp", "/tmp"] * 64):
        with open(f"{folder}/fill-{index}", "wb") as handle:
            for _ in range(1024):
                handle.write(block)
    return [opening]
