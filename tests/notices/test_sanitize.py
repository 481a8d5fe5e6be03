"""Notice bodies: a safe subset of Markdown or HTML survives, everything else is removed."""

from __future__ import annotations

import pytest

from notices.sanitize import plain_excerpt, render_body


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<iframe src=https://x>",
    '<a href="javascript:alert(1)">x</a>', '<p onclick="x()" style="color:red">x</p>',
    "<svg><script>alert(1)</script></svg>", '<a href="http://plain.example">x</a>',
])
def test_dangerous_html_is_removed(source: str) -> None:
    html = render_body("html", source)
    for needle in ("<script", "onerror", "<iframe", "javascript:", "onclick", "style=",
                   "<img", "<svg", "http://"):
        assert needle not in html


def test_markdown_renders_safe_structure() -> None:
    html = render_body("markdown", "## 要点\n\n- **截止** 6月30日\n- [指南](https://gov.cn/a)\n\n"
                                   "| 项目 | 金额 |\n|---|---|\n| 奖励 | 30万 |")
    assert "<h2>要点</h2>" in html and "<strong>截止</strong>" in html
    assert '<a href="https://gov.cn/a" rel="noopener noreferrer nofollow">指南</a>' in html
    assert "<table>" in html and "<td>30万</td>" in html


def test_raw_html_inside_markdown_goes_through_the_allowlist() -> None:
    html = render_body("markdown", "正文 <b>加粗</b> <script>x()</script> <u>下划线</u>")
    assert "<b>加粗</b>" in html and "<u>下划线</u>" in html and "<script" not in html


def test_excerpt_is_plain_text() -> None:
    assert plain_excerpt("<p>关于 <b>A&amp;B</b></p>") == "关于 A&B"
    assert len(plain_excerpt("<p>" + "长" * 200 + "</p>", limit=20)) == 20
