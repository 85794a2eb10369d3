"""README promises: the test command in README.md is exactly what .ci/run executes."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    blocks, inside, cur = [], False, []
    for line in text.splitlines():
        if line.strip().startswith("```bash"):
            inside, cur = True, []
        elif line.strip() == "```" and inside:
            inside = False
            blocks.append("\n".join(cur).strip())
        elif inside:
            cur.append(line)
    return blocks


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    assert len(blocks) >= 2, "README must open with two bash commands (main job, tests)"
    main_job, tests = blocks[0], blocks[1]
    assert "pytest" in tests and "pytest" not in main_job
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, f".ci/run must contain the README test command verbatim:\n{tests}"


def test_main_job_script_exists():
    readme = (ROOT / "README.md").read_text()
    main_job = _bash_blocks(readme)[0]
    script = [w for w in main_job.split() if w.endswith(".py")][0]
    assert (ROOT / script).is_file(), f"README main job runs {script}, which does not exist"
