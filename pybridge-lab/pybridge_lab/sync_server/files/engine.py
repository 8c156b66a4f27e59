# The lab's test sync server runs pybridge's engine through this script ($env:PYBRIDGE_PYTHON points here): it
# takes the arguments of a Python that is asked for `-m pybridge ...`, records each run (its arguments, process id,
# start and end) in the server's engine log, one JSON object a line, and runs the engine in this same process, so
# that stopping the process stops the engine. A run that was killed has no end record.
import json
import os
import runpy
import sys
import time

LOG = os.environ.get("PYBRIDGE_LAB_ENGINE_LOG")


def record(**entry):
    if LOG:
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


def main():
    args = sys.argv[1:]
    if args[:1] != ["-m"] or len(args) < 2:
        sys.stderr.write("the lab's engine runs only `-m MODULE [ARGUMENTS]`\n")
        return 2
    module, rest = args[1], args[2:]
    record(event="start", pid=os.getpid(), module=module, argv=rest, time=time.time())
    code = 0
    try:
        sys.argv = [module] + rest
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    except BaseException:
        code = 1
        raise
    finally:
        record(event="end", pid=os.getpid(), time=time.time(), code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
