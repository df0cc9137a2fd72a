/* The `host` board: the firmware core on a PC behind a pseudo-terminal, for end-to-end tests with pyserial.
 *
 *   sense-fw-host [--link PATH] [--channels N] [--key-file PATH] [--trace PATH] [--untrusted] [--baud N]
 *                 [--boot-ms N]
 *
 * Prints "PTY <slave path>" on stdout, then serves the protocol on the pty's master side; --link also makes
 * PATH a symlink to the slave (a stable name across restarts, like a udev rule). The key lives in --key-file
 * (hex text, written on PROVISION_KEY). --trace appends "<ms> <duty0> <duty1> ..." whenever a duty changes.
 * --boot-ms N ignores everything received during the first N ms, like an Arduino that resets when its port is
 * opened and sits in its bootloader. "# gap <ms> <gap ms>" lines mark ticks that came late because the OS did not schedule us.
 * --untrusted makes the link behave like BLE (no provisioning; no control without a key). SIGTERM/SIGINT
 * zero the outputs (traced) and exit. --baud N behaves like a UART at N baud (8N1, 10 bits per byte): received
 * bytes are consumed no faster than the line delivers them (idle time earns no credit) and sending blocks for
 * the bytes' line time, to benchmark the link at a given line rate; default: as fast as the pty goes. */
#define _XOPEN_SOURCE 600
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "sense_device.h"

#define HOST_DEFAULT_CHANNELS 16
#define HOST_UPDATE_RATE_HZ 1000
#define HOST_HARD_THERMAL_LIMIT 52000u /* ~80 % average duty */
#define READ_CHUNK 256
#define UART_BITS_PER_BYTE 10u
#define TRACE_GAP_MS 2u /* longer pauses between ticks are written to the trace */ /* 8N1: start + 8 data + stop */

typedef struct {
    int master_fd;
    const char *key_path;
    FILE *trace;
    uint64_t byte_ns; /* --baud: time of one 8N1 byte on the line; 0 = unpaced */
} host_board;

static volatile sig_atomic_t stop_requested;

static void on_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static uint32_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const uint8_t *bytes, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t written = write(fd, bytes + done, n - done);
        if (written < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                struct pollfd pfd = {fd, POLLOUT, 0};
                poll(&pfd, 1, 5);
                continue;
            }
            return; /* nobody listening: the host will ask again */
        }
        done += (size_t)written;
    }
}

static void host_send(void *ctx, const uint8_t *bytes, uint16_t n) {
    host_board *board = ctx;
    uint16_t i;
    if (board->byte_ns == 0) {
        write_all(board->master_fd, bytes, n);
        return;
    }
    for (i = 0; i < n; i++) { /* a blocking UART transmitter: one byte per byte time */
        uint64_t until = now_ns() + board->byte_ns;
        while (now_ns() < until) {
        }
        write_all(board->master_fd, bytes + i, 1);
    }
}

static int host_store_key(void *ctx, const uint8_t key[SENSE_KEY_BYTES]) {
    host_board *board = ctx;
    FILE *file;
    unsigned i;
    if (board->key_path == NULL) {
        return 0;
    }
    file = fopen(board->key_path, "w");
    if (file == NULL) {
        return 0;
    }
    for (i = 0; i < SENSE_KEY_BYTES; i++) {
        fprintf(file, "%02x", key[i]);
    }
    fputc('\n', file);
    return fclose(file) == 0;
}

static void host_entropy(void *ctx, uint8_t *buf, uint8_t n) {
    int fd = open("/dev/urandom", O_RDONLY);
    (void)ctx;
    if (fd < 0 || read(fd, buf, n) != n) {
        uint32_t t = now_ms();
        memcpy(buf, &t, n < sizeof(t) ? n : sizeof(t));
    }
    if (fd >= 0) {
        close(fd);
    }
}

static int load_key(const char *path, uint8_t key[SENSE_KEY_BYTES]) {
    FILE *file = path ? fopen(path, "r") : NULL;
    unsigned i, value;
    if (file == NULL) {
        return 0;
    }
    for (i = 0; i < SENSE_KEY_BYTES; i++) {
        if (fscanf(file, "%2x", &value) != 1) {
            fclose(file);
            return 0;
        }
        key[i] = (uint8_t)value;
    }
    fclose(file);
    return 1;
}

static void trace_duties(host_board *board, const sense_device *dev, uint32_t t_ms) {
    uint8_t ch;
    if (board->trace == NULL) {
        return;
    }
    fprintf(board->trace, "%lu", (unsigned long)t_ms);
    for (ch = 0; ch < dev->act.n_channels; ch++) {
        fprintf(board->trace, " %u", dev->act.duty[ch]);
    }
    fputc('\n', board->trace);
    fflush(board->trace);
}

static int open_pty(const char *link_path, int *slave_fd) {
    struct termios tio;
    const char *slave_name;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || (slave_name = ptsname(master)) == NULL) {
        perror("sense-fw-host: pty");
        return -1;
    }
    /* keep the slave open so the master never sees a hang-up when the host closes its side */
    *slave_fd = open(slave_name, O_RDWR | O_NOCTTY);
    if (*slave_fd < 0 || tcgetattr(*slave_fd, &tio) != 0) {
        perror("sense-fw-host: slave");
        return -1;
    }
    cfmakeraw(&tio);
    tcsetattr(*slave_fd, TCSANOW, &tio);
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    if (link_path) {
        unlink(link_path);
        if (symlink(slave_name, link_path) != 0) {
            perror("sense-fw-host: symlink");
            return -1;
        }
    }
    printf("PTY %s\n", slave_name);
    fflush(stdout);
    return master;
}

int main(int argc, char **argv) {
    static sense_device dev;
    host_board board = {-1, NULL, NULL, 0};
    sense_board_desc desc = {"host", HOST_DEFAULT_CHANNELS, HOST_UPDATE_RATE_HZ, NULL, HOST_HARD_THERMAL_LIMIT, 0};
    sense_board_io io = {&board, host_send, host_store_key, host_entropy};
    const char *link_path = NULL;
    uint8_t key[SENSE_KEY_BYTES], trusted = 1;
    uint8_t buf[READ_CHUNK];
    uint32_t last_tick;
    long baud = 0;
    uint64_t rx_next_ns = 0;
    uint32_t boot_ms = 0, started_ms;
    int line_idle = 1;
    int i, slave_fd = -1, have_key;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
            link_path = argv[++i];
        } else if (strcmp(argv[i], "--channels") == 0 && i + 1 < argc) {
            int n = atoi(argv[++i]);
            if (n < 1 || n > SENSE_MAX_CHANNELS) {
                fprintf(stderr, "sense-fw-host: --channels must be 1..%d\n", SENSE_MAX_CHANNELS);
                return 2;
            }
            desc.n_channels = (uint8_t)n;
        } else if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc) {
            board.key_path = argv[++i];
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            board.trace = fopen(argv[++i], "w");
        } else if (strcmp(argv[i], "--boot-ms") == 0 && i + 1 < argc) {
            boot_ms = (uint32_t)atol(argv[++i]);
        } else if (strcmp(argv[i], "--baud") == 0 && i + 1 < argc) {
            baud = atol(argv[++i]);
        } else if (strcmp(argv[i], "--untrusted") == 0) {
            trusted = 0;
        } else {
            fprintf(stderr, "usage: %s [--link PATH] [--channels N] [--key-file PATH] [--trace PATH] [--untrusted] [--baud N] [--boot-ms N]\n",
                    argv[0]);
            return 2;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test that crashed must not leave us running */
#endif
    board.master_fd = open_pty(link_path, &slave_fd);
    if (board.master_fd < 0) {
        return 1;
    }
    desc.boot_count = now_ms();
    have_key = load_key(board.key_path, key);
    sense_device_init(&dev, &desc, &io, have_key ? key : NULL, trusted, now_ms());
    trace_duties(&board, &dev, now_ms());
    last_tick = started_ms = now_ms();
    if (baud > 0) {
        board.byte_ns = UART_BITS_PER_BYTE * 1000000000ull / (uint64_t)baud;
    }
    while (!stop_requested) {
        struct pollfd pfd = {board.master_fd, POLLIN, 0};
        size_t budget = sizeof(buf);
        uint32_t t;
        if (board.byte_ns > 0) { /* a UART delivers one byte per byte time once data is flowing */
            uint64_t t_ns = now_ns();
            uint64_t available = t_ns > rx_next_ns ? (t_ns - rx_next_ns) / board.byte_ns : 0;
            if (line_idle) {
                available = 1; /* whatever is sent next can arrive no sooner than one byte time */
            }
            if (available < budget) {
                budget = (size_t)available;
            }
        }
        if (budget == 0) {
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        } else if (poll(&pfd, 1, 1) > 0 && (pfd.revents & POLLIN)) {
            ssize_t n = read(board.master_fd, buf, budget);
            if (n > 0) {
                if (line_idle) { /* idle time earns no credit: the line starts now */
                    rx_next_ns = now_ns() - board.byte_ns;
                    line_idle = 0;
                }
                rx_next_ns += (uint64_t)n * board.byte_ns;
                if (now_ms() - started_ms >= boot_ms) { /* still "in the bootloader": bytes are lost */
                    sense_device_feed(&dev, buf, (size_t)n, now_ms());
                }
            }
        } else {
            line_idle = 1;
        }
        t = now_ms();
        if (t != last_tick) {
            if (board.trace != NULL && t - last_tick > TRACE_GAP_MS) { /* the OS did not run us: say so */
                fprintf(board.trace, "# gap %lu %lu\n", (unsigned long)t, (unsigned long)(t - last_tick));
            }
            last_tick = t;
            if (sense_device_tick(&dev, t)) {
                trace_duties(&board, &dev, t);
            }
        }
    }
    sense_actuators_stop(&dev.act);
    sense_device_tick(&dev, now_ms());
    trace_duties(&board, &dev, now_ms());
    if (link_path) {
        unlink(link_path);
    }
    close(slave_fd);
    return 0;
}
