/* Internal: the style sheet and script of the HTML report page.
 *
 * They are edited as src/analysis/report/page.css and page.js and turned
 * into these NUL-terminated arrays at build time (cmake/report_page.cmake),
 * so an installed library needs no files but Chart.js.
 *
 * The script reads the document from <script id="tq-report-data">, builds
 * the header, tables and Chart.js charts for each part present, then sets
 * data-charts (the number of charts made) and data-ready="1" on <body>; on
 * an exception it shows the message in the page and sets data-error. All
 * text from the document goes into the page through textContent, never as
 * HTML. The build refuses either file when it holds "</script", "</style"
 * or "<!--". */
#ifndef TQ_ANALYSIS_REPORT_PAGE_H
#define TQ_ANALYSIS_REPORT_PAGE_H

extern const char tq_report_page_css[];
extern const char tq_report_page_js[];
/* Drawn after page.js for search documents that mark their Pareto front. */
extern const char tq_report_pareto_js[];

#endif
