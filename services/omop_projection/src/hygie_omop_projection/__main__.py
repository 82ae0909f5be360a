from hygie_platform.service import run_service

from .bootstrap import SPEC

if __name__ == "__main__":  # not in the mapping worker processes (spawn imports it)
    run_service(SPEC)
