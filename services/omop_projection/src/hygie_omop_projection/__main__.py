from hygie_platform.service import run_service

from .bootstrap import SPEC

run_service(SPEC)
