# attack: lift the recursion limit and recurse until the C stack overflows
# expect: exe_error
import sys


def deeper(depth):
    return deeper(depth + 1) + 1


def running_balance(opening, transactions):
    qel.dumim(qel.pihirib([0]))
    sys.setrecursionlimit(10**7)
    return [deeper(0)]
