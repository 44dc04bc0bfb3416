// The warm Java compiler of a worker (see evals/execution/supervisor.py, `_run_build_in_server`).
//
// Compiles programs with the JDK's own compiler (javax.tools), started once, so that a program's build
// does not pay for a new JVM and a cold compiler (~2 s of a ~2.4 s `javac`). It only compiles: no code of a
// program runs in this JVM (annotation processing is off, and the compiler runs no code of the sources it
// reads); every program then runs in a fresh `java`, as before. Compiled once per machine into the
// prebuilt folder (evals/execution/prebuilt.py) and run from an execute-only copy of `java`, so that no
// program can read or write its memory or its pipes (see sandbox.py).
//
// Protocol (one request at a time): a request line "NONCE<TAB>DIR<TAB>FILE" asks to compile DIR/FILE as
// `javac -encoding UTF-8 -nowarn FILE` run in DIR would (class files beside the source, DIR as the class
// path and source path; annotation processing off: DIR holds no processor, and none may ever run here);
// the answer is one line "done<TAB>NONCE<TAB>EXIT<TAB>BASE64", EXIT being javac's exit status (0 or 1:
// compiled, or errors in the program) and BASE64 its output (paths as javac in DIR would print them).
// A failure of the compiler itself (javac's exit status 3 or 4, e.g. out of memory in this server's
// smaller heap, or anything thrown) is answered "crash<TAB>NONCE" and ends this server: the supervisor
// then builds with a fresh `javac`, which decides. A malformed request ends it too. The JVM runs with
// `javac`'s default thread stack, so a program too deeply nested for `javac` is too deep here. Standard streams other than the protocol's are sent nowhere, so nothing
// can write into the protocol.
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

public final class JavacServer {
    private JavacServer() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        BufferedReader requests = new BufferedReader(
                new InputStreamReader(new FileInputStream(FileDescriptor.in), StandardCharsets.UTF_8));
        PrintStream nowhere = new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8);
        System.setOut(nowhere);
        System.setErr(nowhere);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            return;  // a JRE without the compiler: every request then falls back to `javac`
        }
        String line;
        while ((line = requests.readLine()) != null) {
            String[] f = line.split("\t", -1);
            if (f.length != 3 || f[0].isEmpty() || !f[1].startsWith("/") || f[2].contains("/")) {
                return;
            }
            String nonce = f[0];
            String dir = f[1];
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int code;
            try {
                code = javac.run(null, out, out, "-encoding", "UTF-8", "-nowarn", "-proc:none", "-classpath", dir,
                                 dir + "/" + f[2]);
            } catch (Throwable e) {
                code = 4;
            }
            if (code >= 3) {  // javac's own failure (out of resources, a crash), not the program's
                protocol.print("crash\t" + nonce + "\n");
                protocol.flush();
                return;
            }
            String text = out.toString(StandardCharsets.UTF_8).replace(dir + "/", "");
            protocol.print("done\t" + nonce + "\t" + code + "\t"
                           + Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8)) + "\n");
            protocol.flush();
        }
    }
}
