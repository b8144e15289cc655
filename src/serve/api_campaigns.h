/* SPDX-License-Identifier: MIT */
/* Private to src/serve: the handlers of /api/v1/campaigns (api_campaigns.c). */
#ifndef LOA_SERVE_API_CAMPAIGNS_H
#define LOA_SERVE_API_CAMPAIGNS_H

#include <loa/http.h>

void api_campaigns_list(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_create(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_get(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_update(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_delete(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_start(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_schedule(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_pause(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_resume(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_cancel(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_retry_failed(void *app, const struct loa_http_req *req,
                                struct loa_http_resp *resp);
void api_campaigns_deliveries(void *app, const struct loa_http_req *req,
                              struct loa_http_resp *resp);
void api_campaigns_unknowns(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);
void api_campaigns_resend(void *app, const struct loa_http_req *req, struct loa_http_resp *resp);

#endif /* LOA_SERVE_API_CAMPAIGNS_H */
