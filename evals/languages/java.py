"""Java (OpenJDK): javac once, then a small, fast-starting JVM (serial GC, C1 only, CDS)."""
from .base import Language

LANG = Language(
    name="java", ext="java", source_name="Main.java",
    build=("javac", "-encoding", "UTF-8", "-nowarn", "{src}"),
    run=("java", "-Xmx{mem_mb}m", "-Xss16m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
         "-cp", ".", "Main"),
    version=("java", "-version"), debian=("default-jdk-headless",), rlimit_as=False,
    failure_patterns=(r"java\.lang\.(Exception|AssertionError|RuntimeException)",),
    memory_patterns=(r"java\.lang\.OutOfMemoryError",),
)
