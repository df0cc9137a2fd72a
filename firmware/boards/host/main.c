/* The `host` board: the firmware core on a PC behind a pseudo-terminal, for end-to-end tests with pyserial.
 *
 *   sense-fw-host [--link PATH] [--channels N] [--key-file PATH] [--trace PATH] [--untrusted] [--baud N]
 *
 * Prints "PTY <slave path>" on stdout, then serves the protocol on the pty's master side; --link also makes
 * PATH a symlink to the slave (a stable name across restarts, like a udev rule). The key lives in --key-file
 * (hex text, written on PROVISION_KEY). --trace appends "<ms> <duty0> <duty1> ..." whenever a duty changes.
 * "# gap <ms> <gap ms>" lines mark ticks that came late because the OS did not schedule us.
 * --untrusted makes the link behave like BLE (no provisioning; no control without a key). SIGTERM/SIGINT
 * zero the outputs (traced) and exit. --baud N consumes received bytes no faster than a UART at N baud (8N1:
 * 10 bits per byte) would deliver them, to benchmark the link at a given line rate; default: as fast as they come. */
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

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void host_send(void *ctx, const uint8_t *bytes, uint16_t n) {
    host_board *board = ctx;
    size_t done = 0;
    while (done < n) {
        ssize_t written = write(board->master_fd, bytes + done, n - done);
        if (written < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                struct pollfd pfd = {board->master_fd, POLLOUT, 0};
                poll(&pfd, 1, 5);
                continue;
            }
            return; /* nobody listening: the host will resend */
        }
        done += (size_t)written;
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
    host_board board = {-1, NULL, NULL};
    sense_board_desc desc = {"host", HOST_DEFAULT_CHANNELS, HOST_UPDATE_RATE_HZ, NULL, HOST_HARD_THERMAL_LIMIT, 0};
    sense_board_io io = {&board, host_send, host_store_key, host_entropy};
    const char *link_path = NULL;
    uint8_t key[SENSE_KEY_BYTES], trusted = 1;
    uint8_t buf[READ_CHUNK];
    uint32_t last_tick;
    long baud = 0;
    uint64_t start_us = 0, consumed_bytes = 0;
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
        } else if (strcmp(argv[i], "--baud") == 0 && i + 1 < argc) {
            baud = atol(argv[++i]);
        } else if (strcmp(argv[i], "--untrusted") == 0) {
            trusted = 0;
        } else {
            fprintf(stderr, "usage: %s [--link PATH] [--channels N] [--key-file PATH] [--trace PATH] [--untrusted] [--baud N]\n",
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
    last_tick = now_ms();
    start_us = now_us();
    while (!stop_requested) {
        struct pollfd pfd = {board.master_fd, POLLIN, 0};
        size_t budget = sizeof(buf);
        uint32_t t;
        if (baud > 0) { /* bytes a UART at this baud rate would have delivered by now */
            uint64_t allowed = (now_us() - start_us) * (uint64_t)baud / UART_BITS_PER_BYTE / 1000000u;
            if (consumed_bytes + budget > allowed) {
                budget = allowed > consumed_bytes ? (size_t)(allowed - consumed_bytes) : 0;
            }
        }
        if (budget > 0 && poll(&pfd, 1, 1) > 0 && (pfd.revents & POLLIN)) {
            ssize_t n = read(board.master_fd, buf, budget);
            if (n > 0) {
                consumed_bytes += (uint64_t)n;
                sense_device_feed(&dev, buf, (size_t)n, now_ms());
            }
        } else if (budget == 0) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
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
