"""C++17 with g++: one build per program, then the binary runs under the limits."""
from .base import Language

LANG = Language(
    name="cpp", ext="cpp", aliases=("c++", "cxx"),
    build=("g++", "-std=c++17", "-pipe", "-o", "main", "{src}"), run=("./main",),
    version=("g++", "--version"), debian=("g++",),
    failure_patterns=(r"what\(\):\s+Exception", r"Assertion .* failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"std::bad_alloc",),
)
