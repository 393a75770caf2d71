import assert from "node:assert/strict";
import { isFerryError } from "../errors.ts";
import { cleanPath, compileIgnore } from "./ignore.ts";
import { regexpLiteral } from "../glob_syntax.ts";
import { Rng } from "../../tests/support/fuzz.ts";

// [pattern, path, ignored] — the single-pattern table of Docker's pattern matcher, where a path
// also counts as matched when one of its parent directories matches.
const SINGLE: [string, string, boolean][] = [
  ["**", "file", true],
  ["**", "file/", true],
  ["**/", "file", true],
  ["**/", "file/", true],
  ["**", "dir/file", true],
  ["**/", "dir/file", true],
  ["**/**", "dir/file", true],
  ["dir/**", "dir/file", true],
  ["dir/**", "dir/dir2/file", true],
  ["**/dir", "dir", true],
  ["**/dir", "dir/file", true],
  ["**/dir2/*", "dir/dir2/file", true],
  ["**/dir2/*", "dir/dir2/file/", true],
  ["**/dir2/**", "dir/dir2/dir3/file", true],
  ["**file", "file", true],
  ["**file", "dir/file", true],
  ["**/file", "dir/file", true],
  ["**file", "dir/dir/file", true],
  ["**/file", "dir/dir/file", true],
  ["**/file*", "dir/dir/file", true],
  ["**/file*", "dir/dir/file.txt", true],
  ["**/file*txt", "dir/dir/file.txt", true],
  ["**/file*.txt", "dir/dir/file.txt", true],
  ["**/file*.txt*", "dir/dir/file.txt", true],
  ["**/**/*.txt", "dir/dir/file.txt", true],
  ["**/**/*.txt2", "dir/dir/file.txt", false],
  ["**/*.txt", "file.txt", true],
  ["**/**/*.txt", "file.txt", true],
  ["a**/*.txt", "a/file.txt", true],
  ["a**/*.txt", "a/dir/file.txt", true],
  ["a**/*.txt", "a/dir/dir/file.txt", true],
  ["a/*.txt", "a/dir/file.txt", false],
  ["a/*.txt", "a/file.txt", true],
  ["a/*.txt**", "a/file.txt", true],
  ["a[b-d]e", "ae", false],
  ["a[b-d]e", "ace", true],
  ["a[b-d]e", "aae", false],
  ["a[^b-d]e", "aze", true],
  [".*", ".foo", true],
  [".*", "foo", false],
  ["abc.def", "abcdef", false],
  ["abc.def", "abc.def", true],
  ["abc.def", "abcZdef", false],
  ["abc?def", "abcZdef", true],
  ["abc?def", "abcdef", false],
  ["**/foo/bar", "foo/bar", true],
  ["**/foo/bar", "dir/foo/bar", true],
  ["**/foo/bar", "dir/dir2/foo/bar", true],
  ["abc/**", "abc", false],
  ["abc/**", "abc/def", true],
  ["abc/**", "abc/def/ghi", true],
  ["**/.foo", ".foo", true],
  ["**/.foo", "bar.foo", false],
  ["a(b)c/def", "a(b)c/def", true],
  ["a(b)c/def", "a(b)c/xyz", false],
  ["a.|)$(}+{bc", "a.|)$(}+{bc", true],
  ["dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
  ["a\\\\", "a\\", true],
  ["a\\*b", "a*b", true],
  ["a\\*b", "ab", false],
  // Go filepath.Match semantics.
  ["*", "abc", true],
  ["*c", "abc", true],
  ["a*", "ab/c", true], // parent `ab` matches
  ["a*/b", "abc/b", true],
  ["a*/b", "a/c/b", false],
  ["a*b*c*d*e*/f", "axbxcxdxe/f", true],
  ["a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false],
  ["a*b?c*x", "abxbbxdbxebxczzx", true],
  ["a*b?c*x", "abxbbxdbxebxczzy", false],
  ["ab[^c]", "abc", false],
  ["ab[^e-g]", "abc", true],
  ["a?b", "a☺b", true],
  ["a[^a]b", "a☺b", true],
  ["a???b", "a☺b", false],
  ["[a-ζ]*", "α", true],
  ["*[a-ζ]", "A", false],
  ["a?b", "a/b", false],
  ["a*b", "a/b", false],
  ["[\\]a]", "]", true],
  ["[\\-]", "-", true],
  ["[x\\-]", "x", true],
  ["[x\\-]", "-", true],
  ["[x\\-]", "z", false],
  ["*x", "xxx", true],
  // Every character a pattern can hold, in and out of classes (issue 9).
  ["my-*.yaml", "my-app.yaml", true],
  ["my-*.yaml", "myapp.yaml", false],
  ["a+b", "a+b", true],
  ["a+b", "aab", false],
  ["{a,b}", "{a,b}", true],
  ["{a,b}", "a", false],
  ["x$", "x$", true],
  ["^x", "^x", true],
  ["^x", "x", false],
  ["a|b", "a|b", true],
  ["a|b", "a", false],
  ["a\\-b", "a-b", true],
  ["a\\!", "a!", true],
  ["[!a]", "!", true],
  ["[!a]", "a", true],
  ["[!a]", "b", false],
  ["[^a]", "b", true],
  ["[^a]", "a", false],
  ["x]", "x]", true],
  ["[\\^]", "^", true],
  ["[a^]", "^", true],
  ["[.$|(]", "|", true],
  ["[.$|(]", "x", false],
  ["[a-z]-[0-9]", "k-7", true],
  ["é-*", "é-ü", true],
  ["[à-ü]", "é", true],
  ["[à-ü]", "e", false],
  ["?", "😀", true],
  // Cleaning and the leading slash.
  ["/foo", "foo", true],
  ["./foo/../bar/", "bar/x", true],
  ["foo/", "foo/x", true],
];

Deno.test("compileIgnore: single-pattern table", () => {
  for (const [pattern, path, expected] of SINGLE) {
    const m = compileIgnore([pattern]);
    assert.equal(m(path), expected, `pattern ${JSON.stringify(pattern)} path ${path}`);
  }
});

// Examples of Docker's .dockerignore documentation and its pattern-matcher tests.
Deno.test("compileIgnore: documented examples", () => {
  const docs = compileIgnore(["# comment", "*/temp*", "*/*/temp*", "temp?"]);
  assert.equal(docs("somedir/temporary.txt"), true);
  assert.equal(docs("somedir/temp"), true);
  assert.equal(docs("somedir/subdir/temporary.txt"), true);
  assert.equal(docs("tempa"), true);
  assert.equal(docs("tempb/inner"), true);
  assert.equal(docs("temp"), false);
  assert.equal(docs("temporary.txt"), false);
  assert.equal(docs("a/b/c/temp"), false);
  assert.equal(docs("# comment"), false);

  const readme = compileIgnore(["*.md", "!README.md"]);
  assert.equal(readme("CHANGES.md"), true);
  assert.equal(readme("README.md"), false);

  const secret = compileIgnore(["*.md", "!README*.md", "README-secret.md"]);
  assert.equal(secret("README-secret.md"), true);
  assert.equal(secret("README-public.md"), false);
  assert.equal(secret("other.md"), true);

  const lastWins = compileIgnore(["*.md", "README-secret.md", "!README*.md"]);
  assert.equal(lastWins("README-secret.md"), false);

  const allGo = compileIgnore(["**/*.go"]);
  assert.equal(allGo("main.go"), true);
  assert.equal(allGo("a/b/c.go"), true);
  assert.equal(allGo("a/b/c.gox"), false);

  const folder = compileIgnore(["docs", "!docs/README.md"]);
  assert.equal(folder("docs/README.md"), false);
  assert.equal(folder("docs/other.md"), true);
  assert.equal(folder("docs"), true);
  assert.equal(folder.hasExceptions, true);

  const all = compileIgnore(["**", "!util/docker/web"]);
  assert.equal(all("util/docker/web/foo"), false);
  assert.equal(all("util/docker/other"), true);
  const again = compileIgnore(["**", "!util/docker/web", "util/docker/web/foo"]);
  assert.equal(again("util/docker/web/foo"), true);
  assert.equal(compileIgnore(["**", "!dist/*.whl"])("dist/a-1.0+x-py3-none-any.whl"), false);
});

Deno.test("compileIgnore: file syntax (comments, blanks, BOM, trimming)", () => {
  const m = compileIgnore(["\uFEFFfirst", "", "   ", " # not a comment", "  spaced  ", "! keep/x"]);
  assert.equal(m("first"), true);
  assert.equal(m("# not a comment"), true);
  assert.equal(m("spaced"), true);
  assert.deepEqual(m.patterns, ["first", "# not a comment", "spaced", "!keep/x"]);
  assert.equal(compileIgnore([]).hasExceptions, false);
  assert.equal(compileIgnore(["*"])("."), false, "the context root is never ignored");
  assert.equal(compileIgnore(["*"])("/abs"), true);
});

Deno.test("compileIgnore: malformed patterns name file:line", () => {
  const bad = [
    "[",
    "[^",
    "[^bc",
    "a[",
    "[]a]",
    "[-]",
    "[x-]",
    "[-x]",
    "[a-b-c]",
    "\\",
    "[z-a]",
    "x[^9-0]",
  ];
  for (const pattern of bad) {
    assert.throws(
      () => compileIgnore(["ok", pattern], ".containerignore"),
      (err: unknown) => {
        assert.ok(isFerryError(err, "invalid_input"), `${pattern}: ${err}`);
        assert.match(err.message, /^\.containerignore:2: bad pattern/);
        return true;
      },
    );
  }
  assert.throws(() => compileIgnore(["!"]), /\.dockerignore:1: illegal exclusion pattern: "!"/);
});

Deno.test("cleanPath: Go path.Clean", () => {
  const cases: [string, string][] = [
    ["", "."],
    ["a//b/./c/", "a/b/c"],
    ["../a", "../a"],
    ["a/../..", ".."],
    ["/../a", "/a"],
    ["/", "/"],
    ["./", "."],
  ];
  for (const [input, expected] of cases) assert.equal(cleanPath(input), expected, input);
});

/** The regular expression Docker's pattern matcher builds (for patterns without classes). */
function dockerRegExp(pattern: string): RegExp {
  const p = Array.from(pattern);
  let re = "^";
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === "*" && p[i + 1] === "*") {
      i++;
      if (p[i + 1] === "/") i++;
      re += i + 1 >= p.length ? "[\\s\\S]*" : "(?:[\\s\\S]*/)?";
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else if (ch === "\\" && i + 1 < p.length) re += regexpLiteral(p[++i]);
    else re += regexpLiteral(ch);
  }
  return new RegExp(re + "$", "u");
}

Deno.test("compileIgnore: patterns match as Docker's regular expressions do", () => {
  const rng = new Rng(11);
  const patternParts = ["a", "b", "/", "*", "**", "**/", "?", "\\*", "é"];
  const pathParts = ["a", "b", "/", "*", "é", "ab/"];
  const text = (parts: string[], max: number) => {
    let out = "";
    for (let n = 1 + rng.int(max); n > 0; n--) out += rng.pick(parts);
    return out;
  };
  for (let run = 0; run < 3000; run++) {
    // A leading `**` and a trailing `/**` take the suffix and prefix shortcuts: start and end
    // with a letter so the regular expression decides.
    const pattern = `a${text(patternParts, 6)}b`;
    if (cleanPath(pattern) !== pattern) continue;
    // Half the paths are made from the pattern, so that many match.
    const path = cleanPath(
      rng.chance(0.5) ? text(pathParts, 8) : pattern
        .replaceAll("\\*", "\0")
        .replace(
          /\*\*\/?|\*|\?/g,
          (w) =>
            w === "?"
              ? rng.pick(["a", "é", "/"])
              : text(w === "*" ? ["a", "b", "é"] : pathParts, 3),
        )
        .replaceAll("\0", "*"),
    );
    if (path === "." || path.startsWith("/") || path.startsWith("..")) continue;
    const re = dockerRegExp(pattern);
    const parents = path.split("/");
    const expected = re.test(path) ||
      parents.slice(0, -1).some((_, i) => re.test(parents.slice(0, i + 1).join("/")));
    assert.equal(
      compileIgnore([pattern])(path),
      expected,
      `pattern ${JSON.stringify(pattern)} path ${JSON.stringify(path)}`,
    );
  }
});

Deno.test("compileIgnore: a pattern of many stars matches in linear time", () => {
  // Exponential for a backtracking regular expression: no `b` in the name.
  const ignore = compileIgnore(["*a".repeat(30) + "b", "**/" + "?*".repeat(30) + "b"]);
  assert.equal(ignore("a".repeat(200)), false);
  assert.equal(ignore(`dir/${"a".repeat(200)}`), false);
  assert.equal(ignore(`${"a".repeat(200)}b`), true);
});
