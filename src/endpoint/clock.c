/*-------------------------------------------------------------------------
 * clock.c
 *	  Monotonic deadlines for the pool's wait, the sweeper's interval, the
 *	  shutdown and the access keys' refresh.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include "clock.h"

int64
ep_clock_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
ep_clock_deadline(struct timespec *deadline, int64 ms)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += ms / 1000;
	deadline->tv_nsec += (long) (ms % 1000) * 1000000;
	if (deadline->tv_nsec >= 1000000000)
	{
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000;
	}
}

bool
ep_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int			rc;

	rc = pthread_condattr_init(&attr);
	if (rc == 0)
	{
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc != 0)
		ep_log(EP_LOG_ERROR, "could not create a condition variable: %s", strerror(rc));
	return rc == 0;
}
