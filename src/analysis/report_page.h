/* Internal: the style sheet and script of the HTML report page. */
#ifndef TQ_ANALYSIS_REPORT_PAGE_H
#define TQ_ANALYSIS_REPORT_PAGE_H

extern const char tq_report_page_css[];
extern const char tq_report_page_script[];

#endif
