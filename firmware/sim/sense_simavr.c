/* simavr harness for the SENSE AVR firmware: runs an ATmega328P at 16 MHz in (at most) real time, exposes
 * USART0 as a pty and reports the PWM duty measured on the six OCnx pins.
 *
 *   sense-simavr [--link PATH] [--bootloader BOOT.hex] [--log-rx] [--fast] [FIRMWARE.elf|.hex]
 *
 * stdout, one event per line (t_us is simulated time in microseconds):
 *   PTY <slave path>             once, when the UART pty is ready
 *   PWM <pin> <duty_ppm> <t_us>  the high-time fraction of pin (D3 D5 D6 D9 D10 D11) over the last 8 PWM
 *                                periods, in parts per million, whenever it changes by more than one step;
 *                                a constant 0 or 100 % is stamped with the time of the edge that started it
 *   PULSE <pin> <duty_ppm> <t_us> (--log-rx) one PWM period's high time on pin, stamped with the rising edge
 *                                that began it, whenever it differs by more than one step from the last one
 *                                reported: the drive as the motor sees it, to one period (1.024 ms)
 *   RX0 <t_us>                   (--log-rx) a 0x00 frame delimiter entered the AVR's UART
 * --bootloader loads an Intel-hex bootloader at its address and starts there (BOOTRST), e.g. Debian's
 * ATmegaBOOT_168_atmega328.hex for the avrdude test; the optional firmware is loaded at 0 as well.
 * --fast runs without real-time pacing. SIGTERM/SIGINT end the process with _exit().
 *
 * The UART bridge is our own, not libsimavrparts' uart_pty: with simavr 1.6, uart_pty stopped feeding the AVR
 * for good once more than its 511-byte FIFO was pending, and sometimes after back-to-back bursts at 500 kbaud
 * (seen in benchmarks/bench_link.py). Here a reader thread fills a large buffer from the pty master, and the
 * AVR thread pushes bytes into the simulated USART whenever it signals XON (its 64-byte input FIFO has room);
 * the USART itself delivers them to the firmware at the programmed baud rate. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <termios.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_hex.h>
#include <simavr/sim_time.h>

#define MCU "atmega328p"
#define F_CPU_HZ 16000000u
#define PWM_PERIOD_CYCLES (64u * 256u)
#define WINDOW_CYCLES (8u * PWM_PERIOD_CYCLES)
#define PPM 1000000u
#define REPORT_STEP_PPM 2000u /* about half of one 8-bit PWM step */
#define PACE_EVERY_CYCLES 16000u /* check the wall clock every simulated millisecond */
#define N_PINS 6
#define BRIDGE_BYTES (1u << 16) /* host -> AVR backlog the bridge can hold */
#define BRIDGE_POLL_CYCLES 160u  /* push pending bytes every 10 us of simulated time */
#define UCSR0B_ADDR 0xC1u        /* ATmega328P USART0 control register B (data space address) */
#define RXEN0_MASK (1u << 4)

typedef struct {
    const char *name;
    char port;
    uint8_t bit;
    uint8_t level;
    avr_cycle_count_t since;      /* cycle of the last edge or window start */
    avr_cycle_count_t high_cycles;
    avr_cycle_count_t last_edge;  /* cycle of the last level change */
    long reported_ppm;
    avr_cycle_count_t rise;       /* cycle of the last rising edge */
    long pulse_ppm;               /* the last PULSE reported */
} pin_meter;

static pin_meter pins[N_PINS] = {
    {"D3", 'D', 3, 0, 0, 0, 0, -1, 0, 0}, {"D5", 'D', 5, 0, 0, 0, 0, -1, 0, 0},
    {"D6", 'D', 6, 0, 0, 0, 0, -1, 0, 0}, {"D9", 'B', 1, 0, 0, 0, 0, -1, 0, 0},
    {"D10", 'B', 2, 0, 0, 0, 0, -1, 0, 0}, {"D11", 'B', 3, 0, 0, 0, 0, -1, 0, 0}};

typedef struct {
    int master_fd;
    int slave_fd;
    char slave_name[128];
    pthread_mutex_t lock;
    uint8_t pending[BRIDGE_BYTES];
    uint32_t head, tail; /* ring indices, modulo BRIDGE_BYTES */
    int xoff;            /* the USART's input FIFO is full */
    avr_irq_t *input_irq;
} pty_bridge;

static avr_t *avr;
static pty_bridge bridge;
static volatile sig_atomic_t stop_requested;
static int log_rx;

static void on_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

static unsigned long long cycles_to_us(avr_cycle_count_t cycles) {
    return (unsigned long long)(cycles / (F_CPU_HZ / 1000000u));
}
static unsigned long long t_us(void) { return cycles_to_us(avr->cycle); }

static void pin_changed(struct avr_irq_t *irq, uint32_t value, void *param) {
    pin_meter *pin = param;
    (void)irq;
    if (pin->level) {
        pin->high_cycles += avr->cycle - pin->since;
    }
    pin->since = avr->cycle;
    if (pin->level != (value ? 1 : 0)) {
        pin->last_edge = avr->cycle;
        if (value) {
            pin->rise = avr->cycle;
        } else if (log_rx && avr->cycle - pin->rise <= PWM_PERIOD_CYCLES) {
            long ppm = (long)((avr->cycle - pin->rise) * PPM / PWM_PERIOD_CYCLES);
            if (labs(ppm - pin->pulse_ppm) > (long)REPORT_STEP_PPM) {
                printf("PULSE %s %ld %llu\n", pin->name, ppm, cycles_to_us(pin->rise));
                fflush(stdout);
                pin->pulse_ppm = ppm;
            }
        }
    }
    pin->level = value ? 1 : 0;
}

static avr_cycle_count_t window_done(struct avr_t *a, avr_cycle_count_t when, void *param) {
    int i;
    (void)param;
    for (i = 0; i < N_PINS; i++) {
        pin_meter *pin = &pins[i];
        long ppm;
        if (pin->level) {
            pin->high_cycles += a->cycle - pin->since;
        }
        ppm = (long)(pin->high_cycles * PPM / WINDOW_CYCLES);
        if (ppm > (long)PPM) {
            ppm = PPM;
        }
        if (pin->reported_ppm < 0 || labs(ppm - pin->reported_ppm) > (long)REPORT_STEP_PPM ||
            ((ppm == 0 || ppm == (long)PPM) && ppm != pin->reported_ppm)) {
            /* a constant level is stamped with the edge that started it, not the end of the window */
            int settled = ppm == 0 || ppm == (long)PPM;
            printf("PWM %s %ld %llu\n", pin->name, ppm, settled ? cycles_to_us(pin->last_edge) : t_us());
            fflush(stdout);
            pin->reported_ppm = ppm;
        }
        if (ppm == 0) {
            pin->pulse_ppm = 0; /* no pulse for a whole window: the next one is news */
        }
        pin->high_cycles = 0;
        pin->since = a->cycle;
    }
    return when + WINDOW_CYCLES;
}

static void uart_input(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    if (log_rx && value == 0) {
        printf("RX0 %llu\n", t_us());
        fflush(stdout);
    }
}

static void *bridge_reader(void *param) {
    pty_bridge *b = param;
    uint8_t chunk[256];
    for (;;) {
        struct pollfd pfd = {b->master_fd, POLLIN, 0};
        ssize_t n, i;
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(b->master_fd, chunk, sizeof(chunk));
        if (n <= 0) {
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EIO) {
                return NULL;
            }
            usleep(1000);
            continue;
        }
        pthread_mutex_lock(&b->lock);
        for (i = 0; i < n; i++) {
            if (((b->head + 1u) % BRIDGE_BYTES) != b->tail) { /* a full backlog drops, like an overrun */
                b->pending[b->head] = chunk[i];
                b->head = (b->head + 1u) % BRIDGE_BYTES;
            }
        }
        pthread_mutex_unlock(&b->lock);
    }
}

/* AVR thread: move pending bytes into the USART until it says XOFF. Bytes wait while the firmware has not
 * enabled its receiver yet (simavr would drop them): a real board would lose them, and hosts retry HELLO. */
static avr_cycle_count_t bridge_push(struct avr_t *a, avr_cycle_count_t when, void *param) {
    pty_bridge *b = param;
    if (!(a->data[UCSR0B_ADDR] & RXEN0_MASK)) {
        return when + BRIDGE_POLL_CYCLES;
    }
    pthread_mutex_lock(&b->lock);
    while (!b->xoff && b->tail != b->head) {
        uint8_t byte = b->pending[b->tail];
        b->tail = (b->tail + 1u) % BRIDGE_BYTES;
        avr_raise_irq(b->input_irq, byte); /* may raise XOFF synchronously */
    }
    pthread_mutex_unlock(&b->lock);
    return when + BRIDGE_POLL_CYCLES;
}

static void bridge_xon(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    ((pty_bridge *)param)->xoff = 0;
}

static void bridge_xoff(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    ((pty_bridge *)param)->xoff = 1;
}

static void bridge_output(struct avr_irq_t *irq, uint32_t value, void *param) {
    pty_bridge *b = param;
    uint8_t byte = (uint8_t)value;
    (void)irq;
    if (write(b->master_fd, &byte, 1) != 1) {
        /* nobody reading and the pty is full: the byte is lost, as on a real UART */
    }
}

static void bridge_start(pty_bridge *b) {
    struct termios tio;
    pthread_t thread;
    if (openpty(&b->master_fd, &b->slave_fd, b->slave_name, NULL, NULL) != 0) {
        perror("sense-simavr: openpty");
        _exit(2);
    }
    tcgetattr(b->slave_fd, &tio);
    cfmakeraw(&tio);
    tcsetattr(b->slave_fd, TCSANOW, &tio);
    fcntl(b->master_fd, F_SETFL, fcntl(b->master_fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_init(&b->lock, NULL);
    b->input_irq = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), bridge_output, b);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), bridge_xon, b);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), bridge_xoff, b);
    avr_cycle_timer_register(avr, BRIDGE_POLL_CYCLES, bridge_push, b);
    if (pthread_create(&thread, NULL, bridge_reader, b) != 0) {
        perror("sense-simavr: thread");
        _exit(2);
    }
}

static void load_hex(const char *path) {
    ihex_chunk_p chunks = NULL;
    int n = read_ihex_chunks(path, &chunks), i;
    uint32_t lowest = 0xFFFFFFFFu;
    if (n <= 0) {
        fprintf(stderr, "sense-simavr: cannot read Intel hex %s\n", path);
        _exit(2);
    }
    for (i = 0; i < n; i++) {
        if (chunks[i].baseaddr + chunks[i].size > avr->flashend + 1u) {
            fprintf(stderr, "sense-simavr: %s does not fit in flash\n", path);
            _exit(2);
        }
        memcpy(avr->flash + chunks[i].baseaddr, chunks[i].data, chunks[i].size);
        if (chunks[i].baseaddr < lowest) {
            lowest = chunks[i].baseaddr;
        }
    }
    if (lowest > 0) { /* a bootloader: start there and come back there on reset (BOOTRST fuse) */
        avr->pc = lowest;
        avr->reset_pc = lowest;
    }
    avr->codeend = avr->flashend;
    free_ihex_chunks(chunks);
}

static void load_firmware(const char *path) {
    elf_firmware_t firmware;
    size_t length = strlen(path);
    if (length > 4 && strcmp(path + length - 4, ".hex") == 0) {
        load_hex(path);
        return;
    }
    memset(&firmware, 0, sizeof(firmware));
    if (elf_read_firmware(path, &firmware) != 0) {
        fprintf(stderr, "sense-simavr: cannot read ELF %s\n", path);
        _exit(2);
    }
    firmware.frequency = F_CPU_HZ;
    strncpy(firmware.mmcu, MCU, sizeof(firmware.mmcu) - 1);
    avr_load_firmware(avr, &firmware);
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *link_path = NULL, *bootloader = NULL, *firmware = NULL;
    int fast = 0, i;
    uint64_t start_ns;
    avr_cycle_count_t next_pace = PACE_EVERY_CYCLES;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
            link_path = argv[++i];
        } else if (strcmp(argv[i], "--bootloader") == 0 && i + 1 < argc) {
            bootloader = argv[++i];
        } else if (strcmp(argv[i], "--log-rx") == 0) {
            log_rx = 1;
        } else if (strcmp(argv[i], "--fast") == 0) {
            fast = 1;
        } else if (argv[i][0] != '-' && firmware == NULL) {
            firmware = argv[i];
        } else {
            fprintf(stderr, "usage: %s [--link PATH] [--bootloader BOOT.hex] [--log-rx] [--fast] [FIRMWARE]\n", argv[0]);
            return 2;
        }
    }
    if (firmware == NULL && bootloader == NULL) {
        fprintf(stderr, "sense-simavr: give a firmware and/or --bootloader\n");
        return 2;
    }
    avr = avr_make_mcu_by_name(MCU);
    if (avr == NULL || avr_init(avr) != 0) {
        fprintf(stderr, "sense-simavr: no simavr core for %s\n", MCU);
        return 2;
    }
    avr->frequency = F_CPU_HZ;
    avr->log = 0;
    if (firmware) {
        load_firmware(firmware);
    }
    if (bootloader) {
        load_hex(bootloader);
    }

    bridge_start(&bridge);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT), uart_input, NULL);
    for (i = 0; i < N_PINS; i++) {
        avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(pins[i].port), pins[i].bit);
        avr_irq_register_notify(irq, pin_changed, &pins[i]);
    }
    avr_cycle_timer_register(avr, WINDOW_CYCLES, window_done, NULL);
    if (link_path) {
        unlink(link_path);
        if (symlink(bridge.slave_name, link_path) != 0) {
            perror("sense-simavr: symlink");
            _exit(2);
        }
    }
    printf("PTY %s\n", bridge.slave_name);
    fflush(stdout);

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test or benchmark that started us */
    start_ns = wall_ns();
    while (!stop_requested) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "sense-simavr: the AVR stopped (state %d) at pc 0x%x\n", state, avr->pc);
            break;
        }
        if (!fast && avr->cycle >= next_pace) {
            uint64_t sim_ns = avr->cycle * 1000ull / (F_CPU_HZ / 1000000u);
            uint64_t elapsed_ns = wall_ns() - start_ns;
            next_pace = avr->cycle + PACE_EVERY_CYCLES;
            if (sim_ns > elapsed_ns + 200000u) {
                struct timespec pause = {0, (long)(sim_ns - elapsed_ns)};
                nanosleep(&pause, NULL);
            }
        }
    }
    if (link_path) {
        unlink(link_path);
    }
    fflush(stdout);
    _exit(0);
}
