/* SPDX-License-Identifier: MIT */
/*
 * loa demo: loa's main job, end to end, on the embedded default (SQLite under .loa/).
 *
 * It starts the loa-graph emulator and `loa serve` as child processes (both from the directory
 * of the running loa), fills a demo Page with simulated people (src/cli/cmd_simulate.c), shows
 * the audience preview of a product-card campaign, starts it and follows it with a live
 * progress line while serve's dispatcher sends and loa-graph's simulated people receive, read,
 * tap and reply (signed webhooks back into serve). Then it prints the funnel, loa-graph's rule
 * violations and where the REST API listens, and keeps serving until Ctrl-C (or exits at once
 * with --exit, for tests). The children die with it (PR_SET_PDEATHSIG) and are stopped with
 * SIGTERM on the way out.
 *
 * Console text is English or Vietnamese (--lang, or LANG=vi*): every phrase is in texts[].
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include <loa/alloc.h>
#include <loa/clock.h>
#include <loa/config.h>
#include <loa/err.h>
#include <loa/store.h>
#include <loa/utf8.h>

#include "common.h"

#ifdef LOA_HAVE_SIMULATE
#include <loa/audience.h>
#include <loa/campaign.h>
#include <loa/rules.h>
#include <loa/sequence.h>

#include "simulate.h"

#define DEMO_DIR       ".loa"
#define DEMO_SEND_RATE 250 /* messages/s: under Meta's 300/s per Page */
#define DEMO_CAP       1000000
#define DEMO_API_PORT  8080
#define START_WAIT_MS  10000
#define STALL_MS       60000
#define SETTLE_MAX_MS  15000
#define SETTLE_QUIET   1500 /* no new webhook for this long: the funnel is final */

/* ---- Console text ----------------------------------------------------------------------- */

enum text_id {
    T_TITLE,
    T_STORE,
    T_FRESH,
    T_GRAPH,
    T_GRAPH_NOTE,
    T_PAGE,
    T_RATE,
    T_PEOPLE,
    T_SIMULATED,
    T_OUTSIDE,
    T_SERVE,
    T_SERVE_NOTE,
    T_KEY,
    T_KEY_NOTE,
    T_CAMPAIGN,
    T_CAMPAIGN_NOTE,
    T_FILTER,
    T_PREVIEW,
    T_MATCHING,
    T_REACHABLE,
    T_NOT_REACHABLE,
    T_SENDING,
    T_SENT,
    T_SKIPPED,
    T_FAILED,
    T_PER_S,
    T_ETA,
    T_DONE_IN,
    T_FUNNEL,
    T_AUDIENCE,
    T_DELIVERED,
    T_READ,
    T_CLICKED,
    T_REPLIED,
    T_UNKNOWN,
    T_PENDING,
    T_OF_SENT,
    T_OF_AUDIENCE,
    T_VIOLATIONS,
    T_TIMINGS,
    T_T_SETUP,
    T_T_SIMULATE,
    T_T_SEND,
    T_T_SETTLE,
    T_T_TOTAL,
    T_API,
    T_CONSOLE,
    T_SIGNIN,
    T_TRY,
    T_CTRL_C,
    T_STOPPING,
    T_BYE,
    T_STATUS,
    T_R_WINDOW,
    T_R_ACTIVATED,
    T_SEQUENCE,
    T_SEQUENCE_NOTE,
    T_WROTE_IN,
    T_STEP1,
    T_STEP2,
    T_COUNT
};

/* [id][0] English, [id][1] Vietnamese. Numbers and names are printed by the code. */
static const char *const texts[T_COUNT][2] = {
    [T_TITLE] = { "loa demo: a broadcast campaign through the whole pipeline",
                  "loa demo: một chiến dịch gửi tin qua toàn bộ hệ thống" },
    [T_STORE] = { "store", "kho dữ liệu" },
    [T_FRESH] = { "fresh SQLite store", "kho SQLite mới" },
    [T_GRAPH] = { "loa-graph", "loa-graph" },
    [T_GRAPH_NOTE] = { "local stand-in for Meta's Graph API; it checks the rules on its own",
                       "giả lập Graph API của Meta; tự kiểm tra chính sách" },
    [T_PAGE] = { "Page", "Trang" },
    [T_RATE] = { "messages/s", "tin/giây" },
    [T_PEOPLE] = { "people", "khách" },
    [T_SIMULATED] = { "simulated people (names, phones, tags, last interactions)",
                      "khách mô phỏng (tên, số điện thoại, thẻ, lần tương tác cuối)" },
    [T_OUTSIDE] = { "outside the 24 h window", "ngoài cửa sổ 24 giờ" },
    [T_SERVE] = { "loa serve", "loa serve" },
    [T_SERVE_NOTE] = { "webhook, REST API and the dispatcher", "webhook, REST API và bộ gửi tin" },
    [T_KEY] = { "API key", "khóa API" },
    [T_KEY_NOTE] = { "admin; shown once, only its hash is stored",
                     "quyền admin; chỉ hiện một lần, chỉ lưu mã băm" },
    [T_CAMPAIGN] = { "campaign", "chiến dịch" },
    [T_CAMPAIGN_NOTE] = { "3 product cards with \"Mua ngay\" and a web link, promotional",
                          "3 thẻ sản phẩm có nút \"Mua ngay\" và liên kết web, quảng cáo" },
    [T_FILTER] = { "filter", "bộ lọc" },
    [T_PREVIEW] = { "audience preview (the rules, as of now)",
                    "xem trước tệp khách (theo chính sách, tại thời điểm này)" },
    [T_MATCHING] = { "matching the filter", "khớp bộ lọc" },
    [T_REACHABLE] = { "reachable now", "gửi được ngay" },
    [T_NOT_REACHABLE] = { "not reachable", "không gửi được" },
    [T_SENDING] = { "sending", "đang gửi" },
    [T_SENT] = { "sent", "đã gửi" },
    [T_SKIPPED] = { "skipped", "bỏ qua" },
    [T_FAILED] = { "failed", "lỗi" },
    [T_PER_S] = { "msg/s", "tin/giây" },
    [T_ETA] = { "ETA", "còn" },
    [T_DONE_IN] = { "campaign completed in", "chiến dịch hoàn tất sau" },
    [T_FUNNEL] = { "funnel", "phễu kết quả" },
    [T_AUDIENCE] = { "audience", "tệp khách" },
    [T_DELIVERED] = { "delivered", "đã nhận" },
    [T_READ] = { "read", "đã xem" },
    [T_CLICKED] = { "clicked", "đã bấm" },
    [T_REPLIED] = { "replied", "đã trả lời" },
    [T_UNKNOWN] = { "unknown", "không rõ" },
    [T_PENDING] = { "not finished", "chưa xong" },
    [T_OF_SENT] = { "of sent", "số đã gửi" },
    [T_OF_AUDIENCE] = { "of the audience", "tệp khách" },
    [T_VIOLATIONS] = { "loa-graph rule violations", "vi phạm chính sách (loa-graph)" },
    [T_TIMINGS] = { "timings", "thời gian" },
    [T_T_SETUP] = { "start-up", "khởi động" },
    [T_T_SIMULATE] = { "people", "tạo khách" },
    [T_T_SEND] = { "sending", "gửi" },
    [T_T_SETTLE] = { "last webhooks", "webhook cuối" },
    [T_T_TOTAL] = { "total", "tổng" },
    [T_API] = { "The REST API listens on", "REST API đang chạy tại" },
    [T_CONSOLE] = { "The web console is at", "Giao diện web tại" },
    [T_SIGNIN] = { "sign in as", "đăng nhập bằng" },
    [T_TRY] = { "try", "thử" },
    [T_CTRL_C] = { "Serving until Ctrl-C.", "Đang phục vụ, nhấn Ctrl-C để dừng." },
    [T_STOPPING] = { "stopping loa serve and loa-graph", "đang dừng loa serve và loa-graph" },
    [T_BYE] = { "stopped", "đã dừng" },
    [T_STATUS] = { "campaign status", "trạng thái chiến dịch" },
    [T_R_WINDOW] = { "last interaction more than 24 h ago", "tương tác cuối đã quá 24 giờ" },
    [T_R_ACTIVATED] = { "first seen before the Page joined loa: no structured messages",
                        "nhắn lần đầu trước khi Trang dùng loa: không gửi tin có cấu trúc" },
    [T_SEQUENCE] = { "sequence", "kịch bản" },
    [T_SEQUENCE_NOTE] = { "welcome: step 1 at once, step 2 a day later between 09:00 and 21:00",
                          "chào mừng: bước 1 gửi ngay, bước 2 sau 1 ngày trong khung 09:00–21:00" },
    [T_WROTE_IN] = { "new people wrote to the Page", "khách mới nhắn tin cho Trang" },
    [T_STEP1] = { "got step 1", "đã nhận bước 1" },
    [T_STEP2] = { "step 2 due (Page time)", "bước 2 gửi lúc (giờ của Trang)" },
};

struct demo {
    struct loa_cli *cli;
    int lang; /* 0 en, 1 vi */
    FILE *out;
    bool tty; /* out is a terminal: the progress line redraws itself */
    pid_t graph_pid, serve_pid;
    char graph_url[64];
    char api_url[192];
    char dir[PATH_MAX]; /* directory of the running loa */
};

static const char *T(const struct demo *d, enum text_id id)
{
    return texts[id][d->lang];
}

/* A reason code with a few words for the common ones. */
static const char *reason_words(const struct demo *d, const char *code)
{
    if (code && strcmp(code, "window_closed") == 0)
        return T(d, T_R_WINDOW);
    if (code && strcmp(code, "not_activated") == 0)
        return T(d, T_R_ACTIVATED);
    return "";
}

/* 50000 → "50,000" (en) or "50.000" (vi). */
static const char *num(const struct demo *d, int64_t n, char *buf, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%lld", (long long)(n < 0 ? -n : n));
    size_t len = strlen(digits), o = 0;
    if (n < 0 && o + 1 < size)
        buf[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < size; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = d->lang ? '.' : ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

#define NUM(d, n) num(d, n, (char[32]){ 0 }, 32)

/* s followed by spaces up to width characters (not bytes: Vietnamese letters are several). */
static const char *padded(const char *s, size_t width, char *buf, size_t size)
{
    size_t chars = loa_utf8_count(s, strlen(s));
    int n = snprintf(buf, size, "%s", s);
    for (size_t i = chars; n >= 0 && (size_t)n + 1 < size && i < width; i++)
        buf[n++] = ' ';
    if (n >= 0 && (size_t)n < size)
        buf[n] = '\0';
    return buf;
}

#define PAD(s, w) padded(s, w, (char[160]){ 0 }, 160)

/* x with one decimal, with the language's decimal mark. */
static const char *dec(const struct demo *d, double x, char *buf, size_t size)
{
    long long tenths = (long long)(x * 10.0 + (x < 0 ? -0.5 : 0.5));
    snprintf(buf, size, "%s%lld%c%lld", tenths < 0 ? "-" : "", llabs(tenths) / 10,
             d->lang ? ',' : '.', llabs(tenths) % 10);
    return buf;
}

#define DEC(d, x) dec(d, x, (char[48]){ 0 }, 48)

static double pct(int64_t part, int64_t whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ---- Children ----------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts argv[0] with stdin from /dev/null, stdout and stderr to log, in a process group of its
   own (Ctrl-C reaches only us, and we stop loa serve before loa-graph so that nothing in flight
   is cut off); it gets SIGTERM when we die. */
static pid_t spawn(char *const argv[], char *const envp[], const char *log)
{
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null < 0) {
        if (fd >= 0)
            close(fd);
        if (null >= 0)
            close(null);
        return -1;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(null, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(fd);
    close(null);
    return pid;
}

/* Whether the child is still running (reaps it when not). */
static bool alive(pid_t *pid)
{
    if (*pid <= 0)
        return false;
    int status;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
        *pid = 0;
        return false;
    }
    return true;
}

/* SIGTERM, then wait up to 15 s, then SIGKILL. Returns false when the child did not exit 0
   (it crashed, or a sanitizer complained). */
static bool stop_child(pid_t *pid)
{
    if (*pid <= 0)
        return true;
    kill(*pid, SIGTERM);
    int64_t deadline = loa_mono_ms() + 15000;
    int status = 0;
    bool clean = false;
    while (loa_mono_ms() < deadline) {
        pid_t r = waitpid(*pid, &status, WNOHANG);
        if (r == *pid) {
            clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            *pid = 0;
            return clean;
        }
        if (r < 0 && errno == ECHILD) {
            *pid = 0;
            return true;
        }
        sleep_ms(20);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return false;
}

/* Waits for a child's port file; 0 when it did not appear (the child died or took too long). */
static int wait_port(pid_t *pid, const char *path)
{
    int64_t deadline = loa_mono_ms() + START_WAIT_MS;
    while (loa_mono_ms() < deadline && !interrupted) {
        FILE *f = fopen(path, "r");
        if (f) {
            int port = 0;
            int got = fscanf(f, "%d", &port);
            fclose(f);
            if (got == 1 && port > 0)
                return port;
        }
        if (!alive(pid))
            return 0;
        sleep_ms(20);
    }
    return 0;
}

/* Whether 127.0.0.1:port can be bound now. */
static bool port_free(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

/* A command line for execve: owned copies of the arguments. */
struct args {
    char *v[24];
    size_t n;
};

static void arg(struct args *a, const char *s)
{
    if (a->n + 1 < sizeof(a->v) / sizeof(a->v[0]))
        a->v[a->n++] = loa_strdup(s);
}

static void args_release(struct args *a)
{
    for (size_t i = 0; i < a->n; i++)
        loa_free(a->v[i]);
    a->n = 0;
}

/* The environment of loa serve: ours, with the webhook secrets replaced. Caller frees. */
static char **serve_env(const char *app_secret, const char *verify_token)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = loa_calloc(n + 3, sizeof(*env));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LOA_WEBHOOK_APP_SECRET=", 23) != 0 &&
            strncmp(environ[i], "LOA_WEBHOOK_VERIFY_TOKEN=", 25) != 0)
            env[k++] = loa_strdup(environ[i]);
    size_t len = strlen(app_secret) + 32;
    env[k] = loa_malloc(len);
    snprintf(env[k++], len, "LOA_WEBHOOK_APP_SECRET=%s", app_secret);
    len = strlen(verify_token) + 32;
    env[k] = loa_malloc(len);
    snprintf(env[k++], len, "LOA_WEBHOOK_VERIFY_TOKEN=%s", verify_token);
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env && env[i]; i++) {
        sodium_memzero(env[i], strlen(env[i]));
        loa_free(env[i]);
    }
    loa_free(env);
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char raw[32];
    randombytes_buf(raw, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, raw, bytes);
    sodium_memzero(raw, sizeof(raw));
}

/* ---- loa-graph admin ---------------------------------------------------------------------- */

/* GET /_admin/stats → the number under key (or -1). */
static int64_t graph_stat(const struct demo *d, const char *key)
{
    long status = 0;
    char *answer = NULL, err[256];
    int64_t v = -1;
    if (loa_sim_http(d->graph_url, "/_admin/stats", NULL, &status, &answer, err) == 0 &&
        status == 200) {
        json_t *root = json_loads(answer, 0, NULL);
        json_t *x = json_object_get(root, key);
        if (json_is_integer(x))
            v = json_integer_value(x);
        json_decref(root);
    }
    loa_free(answer);
    return v;
}

static int graph_config(struct demo *d, int serve_port)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"webhook_url\":\"http://127.0.0.1:%d/webhook\",\"delivery_probability\":0.95,"
             "\"read_probability\":0.6,\"click_probability\":0.15,\"reply_probability\":0.05,"
             "\"delivery_delay_ms\":50,\"read_delay_ms\":300,\"echo\":true}",
             serve_port);
    long status = 0;
    char err[256];
    if (loa_sim_http(d->graph_url, "/_admin/config", body, &status, NULL, err) < 0 ||
        status != 200) {
        fprintf(d->cli->err, "loa demo: cannot configure loa-graph: %s\n",
                status ? "refused" : err);
        return LOA_EXIT_SOFTWARE;
    }
    return LOA_EXIT_OK;
}

/* ---- The campaign ------------------------------------------------------------------------- */

static const char demo_blocks[] =
    "{\"blocks\":[{\"type\":\"cards\",\"image_aspect_ratio\":\"horizontal\",\"elements\":["
    "{\"title\":\"Áo dài lụa Hoa Sen\","
    "\"subtitle\":\"Dành riêng cho {{first_name|bạn}}: 450.000đ (giảm 30%)\","
    "\"image_url\":\"https://shop-hoasen.example/img/ao-dai-lua.jpg\","
    "\"default_action\":{\"url\":\"https://shop-hoasen.example/ao-dai-lua\"},"
    "\"buttons\":[{\"type\":\"postback\",\"title\":\"Mua ngay\",\"payload\":\"BUY_AO_DAI\"},"
    "{\"type\":\"web_url\",\"title\":\"Xem chi tiết\","
    "\"url\":\"https://shop-hoasen.example/ao-dai-lua\"}]},"
    "{\"title\":\"Túi cói đi biển\",\"subtitle\":\"189.000đ, miễn phí giao hàng\","
    "\"image_url\":\"https://shop-hoasen.example/img/tui-coi.jpg\","
    "\"buttons\":[{\"type\":\"postback\",\"title\":\"Mua ngay\",\"payload\":\"BUY_TUI_COI\"},"
    "{\"type\":\"web_url\",\"title\":\"Xem chi tiết\","
    "\"url\":\"https://shop-hoasen.example/tui-coi\"}]},"
    "{\"title\":\"Nón lá Huế thêu tay\",\"subtitle\":\"120.000đ, tặng kèm quai lụa\","
    "\"image_url\":\"https://shop-hoasen.example/img/non-la.jpg\","
    "\"buttons\":[{\"type\":\"postback\",\"title\":\"Mua ngay\",\"payload\":\"BUY_NON_LA\"},"
    "{\"type\":\"web_url\",\"title\":\"Xem chi tiết\","
    "\"url\":\"https://shop-hoasen.example/non-la\"}]}]}]}";

/* Regulars, VIPs and new people who wrote in the last 30 days: some of them more than 24 h
   ago, so the rules skip them with a reason. */
static const char demo_filter[] = "{\"all\":[{\"tags\":{\"any\":[\"khach-quen\",\"vip\",\"moi\"]}},"
                                  "{\"last_interaction\":{\"within_days\":30}}]}";

/* The welcome sequence: whoever writes to the Page for the first time gets step 1 at once (any
   time of day) and step 2 a day later, inside 09:00-21:00 of the Page's clock. */
static const char demo_sequence[] =
    "{\"page_id\":\"%s\",\"name\":\"Chào mừng khách mới\",\"clock\":\"page\","
    "\"window\":{\"from\":\"09:00\",\"to\":\"21:00\"},\"leave_on_reply\":false,"
    "\"triggers\":{\"welcome\":true},\"steps\":["
    "{\"delay\":{\"value\":0,\"unit\":\"seconds\"},\"note\":\"lời chào\",\"any_time\":true,"
    "\"purpose\":\"non_promotional\",\"blocks\":[{\"type\":\"text\",\"text\":"
    "\"Chào {{first_name|bạn}}! Cảm ơn bạn đã nhắn cho Shop Hoa Sen. Bạn cần tư vấn sản phẩm "
    "nào ạ?\",\"quick_replies\":[{\"content_type\":\"text\",\"title\":\"Áo dài\","
    "\"payload\":\"AO_DAI\"},{\"content_type\":\"text\",\"title\":\"Túi cói\","
    "\"payload\":\"TUI_COI\"}]}]},"
    "{\"delay\":{\"value\":1,\"unit\":\"days\"},\"note\":\"nhắc ưu đãi\","
    "\"blocks\":[{\"type\":\"text\",\"text\":\"{{first_name|Bạn}} ơi, mã CHAOBAN giảm "
    "10%% cho đơn đầu tiên vẫn còn hạn đến cuối tuần nhé!\"}]}]}";

#define WELCOME_PEOPLE  5
#define WELCOME_WAIT_MS 20000

/* Creates the welcome sequence; *id_out its id. */
static int welcome_create(struct demo *d, struct loa_store *st, const struct loa_page *page,
                          int64_t *id_out)
{
    char body[2048];
    snprintf(body, sizeof(body), demo_sequence, page->page_id);
    struct loa_diags diags;
    loa_diags_init(&diags, 20);
    struct loa_sequence s;
    char *page_id = NULL;
    int rc = loa_sequence_parse(body, strlen(body), NULL, &s, &page_id, &diags);
    if (rc == 0) {
        s.page_ref = page->id;
        rc = loa_sequence_create(st, &s, loa_now_ms(), id_out);
        loa_sequence_release(&s);
    } else {
        loa_diags_print(&diags, d->cli->err, "loa demo: sequence");
    }
    loa_free(page_id);
    loa_diags_release(&diags);
    if (rc < 0) {
        fprintf(d->cli->err, "loa demo: cannot create the welcome sequence: %s\n",
                loa_strerror(rc));
        return LOA_EXIT_SOFTWARE;
    }
    return LOA_EXIT_OK;
}

struct welcome_ud {
    int64_t due[WELCOME_PEOPLE];
    size_t n;
};

struct step1_ud {
    int64_t step, sent;
};

static int step1_sent(const struct loa_seq_step_stats *x, void *ud)
{
    struct step1_ud *u = ud;
    if (x->step_id == u->step)
        u->sent = x->sent;
    return 0;
}

static int welcome_due(const struct loa_enrolment *e, void *ud)
{
    struct welcome_ud *w = ud;
    if (w->n < WELCOME_PEOPLE)
        w->due[w->n++] = e->due_at;
    return 0;
}

/* New people write to the Page through loa-graph; the welcome sequence greets them. Returns
   LOA_EXIT_FAIL when step 1 did not reach all of them in time. */
static int welcome_run(struct demo *d, struct loa_store *st, const struct loa_page *page,
                       int64_t seq)
{
    FILE *o = d->out;
    static const char *const names[WELCOME_PEOPLE] = { "Mai", "Tuấn", "Hương", "Khoa", "Ngọc" };
    for (int i = 0; i < WELCOME_PEOPLE; i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"page_id\":\"%s\",\"psid\":\"welcome-%d\",\"kind\":\"message\","
                 "\"text\":\"Chào shop, %s đây, cho mình hỏi giá áo dài với ạ\"}",
                 page->page_id, i + 1, names[i]);
        long status = 0;
        char err[256];
        if (loa_sim_http(d->graph_url, "/_admin/actions", body, &status, NULL, err) < 0 ||
            status != 200) {
            fprintf(d->cli->err, "loa demo: loa-graph did not take a new person's message: %s\n",
                    status ? "refused" : err);
            return LOA_EXIT_SOFTWARE;
        }
    }
    fprintf(o, "%s %d %s\n", PAD(T(d, T_SEQUENCE), 12), WELCOME_PEOPLE, T(d, T_WROTE_IN));
    /* Step 1 goes as soon as serve's dispatcher has drained the timers. */
    int64_t deadline = loa_mono_ms() + WELCOME_WAIT_MS;
    struct step1_ud u = { .step = 0 };
    struct loa_sequence s;
    if (loa_store_sequence_get(st, seq, &s) == 0) {
        u.step = s.nsteps ? s.steps[0].id : 0;
        loa_sequence_release(&s);
    }
    struct welcome_ud w = { .n = 0 };
    while (loa_mono_ms() < deadline && !interrupted) {
        struct loa_seq_stats stats;
        w.n = 0;
        if (loa_store_sequence_stats(st, seq, &stats, step1_sent, NULL, &u) == 0 &&
            u.sent >= WELCOME_PEOPLE &&
            loa_store_enrol_list(st, page->id, seq, 0, 1u << LOA_ENROL_WAITING, 0, 0,
                                 WELCOME_PEOPLE, welcome_due, &w) == 0 &&
            w.n == WELCOME_PEOPLE)
            break;
        sleep_ms(200);
    }
    if (u.sent < WELCOME_PEOPLE || w.n < WELCOME_PEOPLE) {
        fprintf(o, "%s %lld/%d %s\n", PAD("", 12), (long long)u.sent, WELCOME_PEOPLE,
                T(d, T_STEP1));
        return LOA_EXIT_FAIL;
    }
    char when[64] = "-";
    int off = 0;
    if (loa_tz_offset(page->timezone, w.due[0], &off) == 0) {
        time_t t = (time_t)((w.due[0] + (int64_t)off * 60000) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%H:%M %d/%m/%Y", &tm);
    }
    fprintf(o, "%s %lld %s; %s %s\n", PAD("", 12), (long long)u.sent, T(d, T_STEP1), T(d, T_STEP2),
            when);
    return LOA_EXIT_OK;
}

static void print_preview(struct demo *d, const struct loa_audience_preview *p)
{
    FILE *o = d->out;
    fprintf(o, "\n%s\n", T(d, T_PREVIEW));
    fprintf(o, "  %s %10s\n", PAD(T(d, T_MATCHING), 30), NUM(d, p->total));
    for (size_t i = 0; i < p->nby_route; i++)
        fprintf(o, "  %s %10s  (%s %s)\n", PAD(T(d, T_REACHABLE), 30), NUM(d, p->by_route[i].count),
                p->by_route[i].route, p->by_route[i].messaging_type);
    fprintf(o, "  %s %10s\n", PAD(T(d, T_NOT_REACHABLE), 30), NUM(d, p->not_reachable));
    for (size_t i = 0; i < p->nby_reason; i++)
        fprintf(o, "    %s %10s  %s\n", PAD(p->by_reason[i].code, 28),
                NUM(d, p->by_reason[i].count), reason_words(d, p->by_reason[i].code));
}

struct reasons {
    char code[16][48];
    int64_t count[16];
    size_t n;
};

static int collect_reason(enum loa_delivery_state state, const char *reason, int64_t count,
                          void *ud)
{
    struct reasons *r = ud;
    if (state != LOA_DELIVERY_SKIPPED || r->n == 16)
        return 0;
    snprintf(r->code[r->n], sizeof(r->code[r->n]), "%s", reason ? reason : "-");
    r->count[r->n++] = count;
    return 0;
}

static void progress(struct demo *d, const struct loa_campaign_stats *s, double rate, bool final)
{
    int64_t done =
        s->total - s->by_state[LOA_DELIVERY_PENDING] - s->by_state[LOA_DELIVERY_IN_FLIGHT];
    int64_t left = s->total - done;
    double frac = s->total ? (double)done / (double)s->total : 1.0;
    char bar[25];
    int fill = (int)(frac * 24);
    for (int i = 0; i < 24; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[24] = '\0';
    char eta[32] = "-";
    if (left > 0 && rate > 1)
        snprintf(eta, sizeof(eta), "%lld s", (long long)((double)left / rate));
    else if (left == 0)
        snprintf(eta, sizeof(eta), "0 s");
    fprintf(d->out, "%s%s [%s] %3d%%  %s %s  %s %s  %s %s  %4.0f %s  %s %s%s", d->tty ? "\r" : "",
            T(d, T_SENDING), bar, (int)(frac * 100), T(d, T_SENT),
            NUM(d, s->by_state[LOA_DELIVERY_SENT]), T(d, T_SKIPPED),
            NUM(d, s->by_state[LOA_DELIVERY_SKIPPED]), T(d, T_FAILED),
            NUM(d, s->by_state[LOA_DELIVERY_FAILED]), rate, T(d, T_PER_S), T(d, T_ETA), eta,
            d->tty && !final ? "   " : "\n");
    fflush(d->out);
}

/* Follows the campaign until it completes; returns an exit code. */
static int follow(struct demo *d, struct loa_store *st, int64_t cid)
{
    int64_t t0 = loa_mono_ms(), last_change = t0, last_print = 0;
    int64_t hist_t[16] = { 0 }, hist_n[16] = { 0 };
    size_t h = 0;
    int64_t prev_done = -1;
    for (;;) {
        struct loa_campaign_stats s;
        struct loa_campaign c;
        if (loa_store_campaign_stats(st, cid, &s, NULL, NULL) < 0 ||
            loa_store_campaign_get(st, cid, &c) < 0) {
            fprintf(d->cli->err, "\nloa demo: cannot read campaign %lld\n", (long long)cid);
            return LOA_EXIT_IOERR;
        }
        bool over = c.status != LOA_CAMPAIGN_RUNNING;
        loa_campaign_release(&c);
        int64_t now = loa_mono_ms();
        int64_t done = s.by_state[LOA_DELIVERY_SENT] + s.by_state[LOA_DELIVERY_SKIPPED] +
                       s.by_state[LOA_DELIVERY_FAILED] + s.by_state[LOA_DELIVERY_UNKNOWN];
        /* msgs/s over the last few seconds */
        hist_t[h % 16] = now;
        hist_n[h % 16] = s.by_state[LOA_DELIVERY_SENT];
        size_t oldest = h >= 12 ? h - 12 : 0;
        h++;
        double rate = 0;
        int64_t dt = now - hist_t[oldest % 16];
        if (dt > 0)
            rate = 1000.0 * (double)(hist_n[(h - 1) % 16] - hist_n[oldest % 16]) / (double)dt;
        if (done != prev_done) {
            prev_done = done;
            last_change = now;
        }
        if (over) {
            /* The average of the whole run. */
            if (now > t0)
                rate = 1000.0 * (double)s.by_state[LOA_DELIVERY_SENT] / (double)(now - t0);
            progress(d, &s, rate, true);
            return LOA_EXIT_OK;
        }
        if (d->tty || now - last_print >= 5000) {
            progress(d, &s, rate, false);
            last_print = now;
        }
        if (interrupted)
            return LOA_EXIT_FAIL;
        if (!alive(&d->serve_pid) || !alive(&d->graph_pid)) {
            fprintf(d->cli->err, "\nloa demo: %s stopped; see %s/%s.log\n",
                    d->serve_pid ? "loa-graph" : "loa serve", DEMO_DIR,
                    d->serve_pid ? "loa-graph" : "serve");
            return LOA_EXIT_SOFTWARE;
        }
        if (now - last_change > STALL_MS) {
            fprintf(d->cli->err, "\nloa demo: no progress for %d s; see %s/serve.log\n",
                    STALL_MS / 1000, DEMO_DIR);
            return LOA_EXIT_SOFTWARE;
        }
        sleep_ms(250);
    }
}

/* Waits until loa-graph has sent every webhook the campaign causes (quiet for a while). */
static void settle(struct demo *d)
{
    int64_t start = loa_mono_ms(), quiet_since = start, last = -1;
    while (!interrupted && loa_mono_ms() - start < SETTLE_MAX_MS) {
        int64_t sent = graph_stat(d, "webhooks_sent") + graph_stat(d, "webhooks_failed");
        int64_t now = loa_mono_ms();
        if (sent != last) {
            last = sent;
            quiet_since = now;
        } else if (now - quiet_since >= SETTLE_QUIET) {
            return;
        }
        sleep_ms(100);
    }
}

static void funnel(struct demo *d, struct loa_store *st, int64_t cid, int64_t *violations_out)
{
    struct loa_campaign_stats s;
    struct reasons r = { .n = 0 };
    loa_store_campaign_stats(st, cid, &s, collect_reason, &r);
    int64_t sent = s.by_state[LOA_DELIVERY_SENT];
    FILE *o = d->out;
    fprintf(o, "\n%s\n", T(d, T_FUNNEL));
    fprintf(o, "  %s %10s\n", PAD(T(d, T_AUDIENCE), 16), NUM(d, s.total));
    fprintf(o, "  %s %10s  %6s %% %s\n", PAD(T(d, T_SENT), 16), NUM(d, sent),
            DEC(d, pct(sent, s.total)), T(d, T_OF_AUDIENCE));
    const struct {
        enum text_id label;
        int64_t n;
    } stage[] = {
        { T_DELIVERED, s.delivered },
        { T_READ, s.read },
        { T_CLICKED, s.clicked },
        { T_REPLIED, s.replied },
    };
    for (size_t i = 0; i < sizeof(stage) / sizeof(stage[0]); i++)
        fprintf(o, "  %s %10s  %6s %% %s\n", PAD(T(d, stage[i].label), 16), NUM(d, stage[i].n),
                DEC(d, pct(stage[i].n, sent)), T(d, T_OF_SENT));
    fprintf(o, "  %s %10s\n", PAD(T(d, T_SKIPPED), 16), NUM(d, s.by_state[LOA_DELIVERY_SKIPPED]));
    for (size_t i = 0; i < r.n; i++)
        fprintf(o, "    %s %10s  %s\n", PAD(r.code[i], 14), NUM(d, r.count[i]),
                reason_words(d, r.code[i]));
    fprintf(o, "  %s %10s\n", PAD(T(d, T_FAILED), 16), NUM(d, s.by_state[LOA_DELIVERY_FAILED]));
    if (s.by_state[LOA_DELIVERY_UNKNOWN])
        fprintf(o, "  %s %10s\n", PAD(T(d, T_UNKNOWN), 16),
                NUM(d, s.by_state[LOA_DELIVERY_UNKNOWN]));
    int64_t left = s.by_state[LOA_DELIVERY_PENDING] + s.by_state[LOA_DELIVERY_IN_FLIGHT];
    if (left)
        fprintf(o, "  %s %10s\n", PAD(T(d, T_PENDING), 16), NUM(d, left));
    *violations_out = graph_stat(d, "violations");
    fprintf(o, "\n%s: %lld\n", T(d, T_VIOLATIONS), (long long)*violations_out);
}

/* ---- loa demo ----------------------------------------------------------------------------- */

static const char demo_help[] =
    "usage: loa demo [--people N] [--exit] [--lang en|vi]\n\n"
    "Runs loa end to end on this machine: a fresh store in .loa/ (unless --store is given),\n"
    "the loa-graph emulator and `loa serve` as child processes, a demo Page with N simulated\n"
    "people (default 50,000; some outside the 24 h window), then a campaign with product\n"
    "cards through the whole pipeline with a live progress line, the funnel (sent, delivered,\n"
    "read, clicked, replied, skipped by reason) and loa-graph's rule violations. Then it keeps\n"
    "serving the REST API until Ctrl-C (it prints the address, an API key and a curl line).\n\n"
    "  --people N    simulated people on the demo Page [50000]\n"
    "  --exit        stop after the funnel instead of serving (tests)\n"
    "  --lang L      en or vi [vi when LANG starts with vi, else en]\n\n"
    "Logs of the children: .loa/serve.log, .loa/loa-graph.log. Exit 0 when the campaign\n"
    "completed with no rule violation.\n";

static void remove_store(const char *path)
{
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static int self_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return LOA_EIO;
    exe[n] = '\0';
    snprintf(out, size, "%s", dirname(exe));
    return 0;
}

/* The console's owner "demo" with a new random password (into pw; a store kept from an earlier
 * run gets a new one). Returns an exit code. */
static int demo_owner(struct loa_cli *cli, struct loa_store *st, char *pw, size_t size)
{
    unsigned char raw[12];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(pw, size, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(cli->err, "loa demo: not enough memory to hash the console password\n");
        return LOA_EXIT_SOFTWARE;
    }
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc == 0) {
        rc = loa_store_user_add(tx, "demo", LOA_USER_OWNER, hash, NULL, 0, loa_now_ms(), NULL);
        if (rc == LOA_EEXIST)
            rc = loa_store_user_set_password(tx, "demo", hash, loa_now_ms());
        if (rc == 0)
            rc = loa_store_signin_clear(tx, "demo");
        rc = loa_store_end(tx, rc);
    }
    sodium_memzero(hash, sizeof(hash));
    if (rc < 0) {
        fprintf(cli->err, "loa demo: cannot create the console user: %s\n", loa_strerror(rc));
        return LOA_EXIT_IOERR;
    }
    return LOA_EXIT_OK;
}

int loa_cmd_demo(struct loa_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "people", required_argument, NULL, 'n' },
        { "exit", no_argument, NULL, 'x' },
        { "lang", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int64_t people = 50000;
    bool exit_after = false;
    const char *lang_env = getenv("LANG");
    struct demo d = { .cli = cli,
                      .out = cli->out,
                      .lang = lang_env && !strncmp(lang_env, "vi", 2) };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_count(optarg, &people) || people < 1 || people > 1000000)
                return cli_usage(cli, "demo", "--people: '%s' is not a number from 1 to 1000000",
                                 optarg);
            break;
        case 'x':
            exit_after = true;
            break;
        case 'l':
            if (strcmp(optarg, "en") != 0 && strcmp(optarg, "vi") != 0)
                return cli_usage(cli, "demo", "--lang must be en or vi");
            d.lang = strcmp(optarg, "vi") == 0;
            break;
        case 'h':
            fputs(demo_help, cli->out);
            return LOA_EXIT_OK;
        default:
            return cli_usage(cli, "demo", "unknown option");
        }
    }
    if (optind != argc)
        return cli_usage(cli, "demo", "unexpected argument '%s'", argv[optind]);
    if (sodium_init() < 0)
        return LOA_EXIT_SOFTWARE;
    d.tty = isatty(fileno(d.out)) != 0;
    int64_t t_start = loa_mono_ms();

    /* A fresh store in .loa/ unless the user named one; the children's logs go there too. */
    mkdir(DEMO_DIR, 0700);
    bool own_store = loa_config_source(cli->config, LOA_OPTION_store_path) == LOA_CONFIG_DEFAULT;
    if (own_store) {
        loa_config_set(cli->config, "store.path", DEMO_DIR "/demo.db", LOA_CONFIG_FLAG, NULL);
        remove_store(DEMO_DIR "/demo.db");
    }
    const char *store_path = cli->set->store_path;
    if (self_dir(d.dir, sizeof(d.dir)) < 0) {
        fprintf(cli->err, "loa demo: cannot find the directory of the loa binary\n");
        return LOA_EXIT_SOFTWARE;
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);

    struct loa_store *st = NULL;
    struct loa_rules *rules = NULL;
    struct loa_audience_node *filter = NULL;
    struct loa_page page = { 0 };
    char **env = NULL;
    char *api_key = NULL;
    char owner_pw[32] = ""; /* the console's "demo" owner: a random password, printed */
    /* loa-graph signs webhooks with the app secret, loa serve checks them with it. */
    char secret_buf[65], verify_token[33];
    random_hex(secret_buf, 32);
    random_hex(verify_token, 16);
    const char *app_secret = cli->set->webhook_app_secret;
    if (!*app_secret)
        app_secret = secret_buf;
    int exit = LOA_EXIT_OK;
    FILE *o = d.out;
    struct loa_diags diags;
    loa_diags_init(&diags, 20);

    fprintf(o, "%s\n\n", T(&d, T_TITLE));
    if ((exit = cli_open_store(cli, true, &st)))
        goto out;
    fprintf(o, "%s %s (%s, schema %d)\n", PAD(T(&d, T_STORE), 12), store_path,
            own_store ? T(&d, T_FRESH) : "--store", loa_store_schema_version(st));
    if (loa_rules_load(cli->set->rules_file, &rules, &diags) < 0) {
        loa_diags_print(&diags, cli->err, cli->set->rules_file);
        exit = LOA_EXIT_CONFIG;
        goto out;
    }

    /* loa-graph */
    char graph_bin[PATH_MAX + 16], loa_bin[PATH_MAX + 16];
    snprintf(graph_bin, sizeof(graph_bin), "%s/loa-graph", d.dir);
    snprintf(loa_bin, sizeof(loa_bin), "%s/loa", d.dir);
    unlink(DEMO_DIR "/graph.port");
    unlink(DEMO_DIR "/serve.port");
    struct args ga = { .n = 0 };
    arg(&ga, graph_bin);
    arg(&ga, "--listen");
    arg(&ga, "127.0.0.1:0");
    arg(&ga, "--port-file");
    arg(&ga, DEMO_DIR "/graph.port");
    d.graph_pid = spawn(ga.v, environ, DEMO_DIR "/loa-graph.log");
    args_release(&ga);
    int gport = d.graph_pid > 0 ? wait_port(&d.graph_pid, DEMO_DIR "/graph.port") : 0;
    if (!gport) {
        fprintf(cli->err, "loa demo: cannot start %s (see %s/loa-graph.log)\n", graph_bin,
                DEMO_DIR);
        exit = LOA_EXIT_SOFTWARE;
        goto out;
    }
    snprintf(d.graph_url, sizeof(d.graph_url), "http://127.0.0.1:%d", gport);
    loa_config_set(cli->config, "graph.url", d.graph_url, LOA_CONFIG_FLAG, NULL);
    fprintf(o, "%s %s (%s)\n", PAD(T(&d, T_GRAPH), 12), d.graph_url, T(&d, T_GRAPH_NOTE));

    /* The demo Page and its people */
    int64_t t_sim = loa_mono_ms();
    struct loa_sim_opts so = {
        .pages = 1,
        .people = people,
        .first_page_id = LOA_SIM_FIRST_PAGE_ID,
        .outside_percent = 10,
        .seed = 7,
        .send_rate = DEMO_SEND_RATE,
        .daily_cap = DEMO_CAP,
        .default_daily_cap = DEMO_CAP,
        .page_name = "Shop Hoa Sen (demo)",
        .graph_url = d.graph_url,
        .app_secret = app_secret,
        .timezone = cli->set->page_timezone,
        .now = loa_now_ms(),
        .cmd = "demo",
    };
    struct loa_sim_page sp;
    int64_t done = 0;
    if ((exit = loa_sim_run(cli, st, &so, &sp, &done)))
        goto out;
    t_sim = loa_mono_ms() - t_sim;
    if ((exit = cli_find_page(cli, st, sp.page_id, &page)))
        goto out;
    struct loa_audience_node *outside = NULL;
    int64_t n_outside = 0;
    static const char outside_filter[] = "{\"not\":{\"last_interaction\":{\"within_days\":1}}}";
    if (loa_audience_parse(outside_filter, strlen(outside_filter), so.now, "filter", &outside,
                           NULL) == 0)
        loa_store_audience_count(st, page.id, outside, &n_outside);
    loa_audience_free(outside);
    int64_t welcome = 0;
    if ((exit = welcome_create(&d, st, &page, &welcome)))
        goto out;
    fprintf(o, "%s %s \"%s\" (%s %s)\n", PAD(T(&d, T_PAGE), 12), page.page_id, page.name,
            NUM(&d, DEMO_SEND_RATE), T(&d, T_RATE));
    fprintf(o, "%s %s %s, %s %s (%s s)\n", PAD(T(&d, T_PEOPLE), 12), NUM(&d, sp.people),
            T(&d, T_SIMULATED), NUM(&d, n_outside), T(&d, T_OUTSIDE),
            DEC(&d, (double)t_sim / 1000.0));

    /* loa serve */
    const char *listen_cfg = cli->set->http_listen;
    char listen[128];
    if (loa_config_source(cli->config, LOA_OPTION_http_listen) != LOA_CONFIG_DEFAULT)
        snprintf(listen, sizeof(listen), "%s", listen_cfg);
    else if (!exit_after && port_free(DEMO_API_PORT))
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", DEMO_API_PORT);
    else
        snprintf(listen, sizeof(listen), "127.0.0.1:0");
    env = serve_env(app_secret, verify_token);
    struct args serve_args = { .n = 0 };
    arg(&serve_args, loa_bin);
    arg(&serve_args, "--store");
    arg(&serve_args, store_path);
    if (*cli->set->store_key_file) {
        arg(&serve_args, "--key-file");
        arg(&serve_args, cli->set->store_key_file);
    }
    arg(&serve_args, "--rules");
    arg(&serve_args, cli->set->rules_file);
    arg(&serve_args, "--graph-url");
    arg(&serve_args, d.graph_url);
    arg(&serve_args, "--listen");
    arg(&serve_args, listen);
    arg(&serve_args, "serve");
    arg(&serve_args, "--port-file");
    arg(&serve_args, DEMO_DIR "/serve.port");
    d.serve_pid = spawn(serve_args.v, env, DEMO_DIR "/serve.log");
    args_release(&serve_args);
    int sport = d.serve_pid > 0 ? wait_port(&d.serve_pid, DEMO_DIR "/serve.port") : 0;
    if (!sport) {
        fprintf(cli->err, "loa demo: cannot start loa serve on %s (see %s/serve.log)\n", listen,
                DEMO_DIR);
        exit = LOA_EXIT_SOFTWARE;
        goto out;
    }
    char host[128];
    snprintf(host, sizeof(host), "%s", listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    if (!strcmp(host, "0.0.0.0") || !*host)
        snprintf(host, sizeof(host), "127.0.0.1");
    snprintf(d.api_url, sizeof(d.api_url), "http://%s:%d", host, sport);
    if ((exit = graph_config(&d, sport)))
        goto out;
    fprintf(o, "%s %s (%s)\n", PAD(T(&d, T_SERVE), 12), d.api_url, T(&d, T_SERVE_NOTE));
    struct loa_apikey key;
    struct loa_txn *tx;
    int rc = loa_store_begin(st, &tx);
    if (rc == 0)
        rc = loa_store_end(
            tx, loa_store_apikey_create(tx, LOA_ROLE_ADMIN, "demo", loa_now_ms(), &api_key, &key));
    if (rc < 0) {
        fprintf(cli->err, "loa demo: cannot create an API key\n");
        exit = LOA_EXIT_IOERR;
        goto out;
    }
    loa_apikey_release(&key);
    fprintf(o, "%s %s (%s)\n", PAD(T(&d, T_KEY), 12), api_key, T(&d, T_KEY_NOTE));
    if ((exit = demo_owner(cli, st, owner_pw, sizeof(owner_pw))))
        goto out;
    int64_t t_setup = loa_mono_ms() - t_start - t_sim;

    /* The welcome sequence: new people write in and are greeted at once. */
    fprintf(o, "\n%s %lld \"Chào mừng khách mới\": %s\n", PAD(T(&d, T_SEQUENCE), 12),
            (long long)welcome, T(&d, T_SEQUENCE_NOTE));
    bool welcomed = welcome_run(&d, st, &page, welcome) == LOA_EXIT_OK;

    /* The campaign: validate, create, preview, start */
    int64_t now = loa_now_ms();
    if (loa_campaign_validate(rules, "promotion", demo_blocks, demo_filter, "promotional", NULL,
                              now, &diags) < 0) {
        loa_diags_print(&diags, cli->err, "loa demo: campaign");
        exit = LOA_EXIT_SOFTWARE;
        goto out;
    }
    const char *cname = "Flash sale cuối tuần";
    struct loa_campaign_input ci = { .name = cname,
                                     .goal = "promotion",
                                     .purpose = "promotional",
                                     .blocks = demo_blocks,
                                     .filter = demo_filter,
                                     .window_from_min = -1,
                                     .window_to_min = -1 };
    int64_t cid = 0;
    if (loa_campaign_create(st, page.id, &ci, now, &cid) < 0 ||
        loa_audience_parse(demo_filter, strlen(demo_filter), now, "filter", &filter, &diags) < 0) {
        fprintf(cli->err, "loa demo: cannot create the campaign\n");
        exit = LOA_EXIT_IOERR;
        goto out;
    }
    fprintf(o, "\n%s %lld \"%s\": %s\n", PAD(T(&d, T_CAMPAIGN), 12), (long long)cid, cname,
            T(&d, T_CAMPAIGN_NOTE));
    fprintf(o, "%s %s\n", PAD(T(&d, T_FILTER), 12), demo_filter);
    struct loa_audience_preview_opts po = { .page_ref = page.id,
                                            .page_activated = page.activated_at,
                                            .purpose = LOA_AUD_PROMOTIONAL,
                                            .structured = true,
                                            .at = now };
    struct loa_audience_preview pv;
    if (loa_audience_preview(st, rules, filter, &po, &pv, &diags) == 0) {
        print_preview(&d, &pv);
        loa_audience_preview_release(&pv);
    }
    fputc('\n', o);
    int64_t t_send = loa_mono_ms();
    int64_t total = 0;
    rc = loa_campaign_start(st, cid, loa_now_ms(), &total);
    if (rc < 0) {
        fprintf(cli->err, "loa demo: cannot start the campaign: %s\n", loa_strerror(rc));
        exit = LOA_EXIT_IOERR;
        goto out;
    }
    if ((exit = follow(&d, st, cid)))
        goto out;
    t_send = loa_mono_ms() - t_send;
    fprintf(o, "%s %s s\n", T(&d, T_DONE_IN), DEC(&d, (double)t_send / 1000.0));
    int64_t t_settle = loa_mono_ms();
    settle(&d);
    t_settle = loa_mono_ms() - t_settle;
    int64_t violations = -1;
    funnel(&d, st, cid, &violations);
    struct loa_campaign camp;
    if (loa_store_campaign_get(st, cid, &camp) == 0) {
        fprintf(o, "%s: %s\n", T(&d, T_STATUS), loa_campaign_status_name(camp.status));
        if (camp.status != LOA_CAMPAIGN_COMPLETED)
            exit = LOA_EXIT_FAIL;
        loa_campaign_release(&camp);
    }
    if (violations != 0 || !welcomed)
        exit = LOA_EXIT_FAIL;
    fprintf(o, "%s: %s %s s, %s %s s, %s %s s, %s %s s, %s %s s\n", T(&d, T_TIMINGS),
            T(&d, T_T_SETUP), DEC(&d, (double)t_setup / 1000.0), T(&d, T_T_SIMULATE),
            DEC(&d, (double)t_sim / 1000.0), T(&d, T_T_SEND), DEC(&d, (double)t_send / 1000.0),
            T(&d, T_T_SETTLE), DEC(&d, (double)t_settle / 1000.0), T(&d, T_T_TOTAL),
            DEC(&d, (double)(loa_mono_ms() - t_start) / 1000.0));

    fprintf(o, "\n%s %s/  (%s demo / %s)\n", T(&d, T_CONSOLE), d.api_url, T(&d, T_SIGNIN),
            owner_pw);
    fprintf(o, "%s %s\n", T(&d, T_API), d.api_url);
    fprintf(o, "%s:\n", T(&d, T_TRY));
    fprintf(o, "  curl -s -H 'Authorization: Bearer %s' %s/api/v1/pages\n", api_key, d.api_url);
    fprintf(o, "  curl -s -H 'Authorization: Bearer %s' %s/api/v1/campaigns/%lld\n", api_key,
            d.api_url, (long long)cid);
    fprintf(o, "  curl -s -H 'Authorization: Bearer %s' %s/api/v1/sequences/%lld\n", api_key,
            d.api_url, (long long)welcome);
    fprintf(o,
            "  curl -s -H 'Authorization: Bearer %s' "
            "'%s/api/v1/pages/%s/subscribers?limit=3'\n",
            api_key, d.api_url, page.page_id);
    if (!exit_after) {
        fprintf(o, "%s\n", T(&d, T_CTRL_C));
        fflush(o);
        while (!interrupted && alive(&d.serve_pid))
            sleep_ms(200);
    }
out:
    if (d.serve_pid > 0 || d.graph_pid > 0) {
        if (!exit_after || interrupted)
            fprintf(o, "\n%s\n", T(&d, T_STOPPING));
        bool serve_ok = stop_child(&d.serve_pid), graph_ok = stop_child(&d.graph_pid);
        if (!serve_ok || !graph_ok) {
            fprintf(cli->err, "loa demo: %s did not stop cleanly (see %s/%s.log)\n",
                    serve_ok ? "loa-graph" : "loa serve", DEMO_DIR,
                    serve_ok ? "loa-graph" : "serve");
            if (exit == LOA_EXIT_OK)
                exit = LOA_EXIT_FAIL;
        }
    }
    fflush(o);
    if (api_key) {
        sodium_memzero(api_key, strlen(api_key));
        loa_free(api_key);
    }
    sodium_memzero(secret_buf, sizeof(secret_buf));
    sodium_memzero(owner_pw, sizeof(owner_pw));
    free_env(env);
    loa_audience_free(filter);
    loa_rules_free(rules);
    loa_page_release(&page);
    loa_store_close(st);
    loa_diags_release(&diags);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return exit;
}

#else /* !LOA_HAVE_SIMULATE */

int loa_cmd_demo(struct loa_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(cli->err, "loa demo: this build has no dispatch module (see LOA_SKIP_MODULES)\n");
    return LOA_EXIT_SOFTWARE;
}

#endif
