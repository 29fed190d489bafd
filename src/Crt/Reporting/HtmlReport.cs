using System.Net;
using System.Text;

namespace Crt.Reporting;

/// <summary>A self-contained HTML page (inline CSS, SVG and base64 PNGs) that reads offline.</summary>
public sealed class HtmlReport
{
    private readonly StringBuilder _body = new();
    public string Title { get; }

    public HtmlReport(string title) => Title = title;

    public HtmlReport Heading(string text, int level = 2) { _body.Append($"<h{level}>{Esc(text)}</h{level}>\n"); return this; }

    public HtmlReport Paragraph(string text) { _body.Append($"<p>{Esc(text)}</p>\n"); return this; }

    /// <summary>A paragraph of trusted HTML (for emphasis and links the report itself builds).</summary>
    public HtmlReport Raw(string html) { _body.Append(html).Append('\n'); return this; }

    public HtmlReport Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _body.Append("<table><thead><tr>");
        foreach (var h in header) _body.Append($"<th>{Esc(h)}</th>");
        _body.Append("</tr></thead><tbody>");
        foreach (var r in rows)
        {
            _body.Append("<tr>");
            foreach (var c in r) _body.Append($"<td>{Esc(c)}</td>");
            _body.Append("</tr>");
        }
        _body.Append("</tbody></table>\n");
        return this;
    }

    public HtmlReport Svg(string svg) { _body.Append("<div class=\"fig\">").Append(svg).Append("</div>\n"); return this; }

    /// <summary>Side-by-side figures: each a caption and a PNG file embedded as a data URI (missing files are named, not dropped).</summary>
    public HtmlReport Images(IEnumerable<(string Caption, string Path)> images)
    {
        _body.Append("<div class=\"row\">");
        foreach (var (caption, path) in images)
        {
            _body.Append("<figure>");
            if (File.Exists(path))
                _body.Append($"<img src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(path))}\" alt=\"{Esc(caption)}\"/>");
            else _body.Append($"<div class=\"missing\">missing: {Esc(path)}</div>");
            _body.Append($"<figcaption>{Esc(caption)}</figcaption></figure>");
        }
        _body.Append("</div>\n");
        return this;
    }

    public string Render() => $$"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{{Esc(Title)}}</title>
        <style>
        body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 24px auto; padding: 0 16px; color: #222; }
        h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
        th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; } th { background: #f4f4f4; }
        td:first-child, th:first-child { text-align: left; }
        .row { display: flex; flex-wrap: wrap; gap: 16px; } figure { margin: 0; }
        img { image-rendering: pixelated; width: 420px; border: 1px solid #ddd; } figcaption { font-size: 13px; color: #555; }
        .fig { margin: 8px 0; } .note { color: #555; font-size: 13px; } .missing { color: #b00; }
        </style></head><body>
        <h1>{{Esc(Title)}}</h1>
        {{_body}}
        </body></html>
        """;

    public void Save(string path) => Data.AtomicFile.WriteAllText(path, Render());

    private static string Esc(string s) => WebUtility.HtmlEncode(s);
}
