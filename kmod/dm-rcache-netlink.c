// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-rcache daemon link: the generic netlink family, the one registered
 * fill daemon, request ids, the credit window and the send queues.
 *
 * A fetch is QUEUED until a daemon is registered and has a free credit, then
 * SENT.  Request ids come from a cyclic IDR, so an id is not handed out again
 * for a long time and never while its request is outstanding; a reply whose
 * id is unknown, or whose request is not with the daemon, is counted and
 * ignored.  When the daemon's socket closes (NETLINK_URELEASE) every SENT
 * fetch goes back to the head of the queue; a daemon that registers later
 * gets all of them again.  While no daemon is registered, queued misses fail
 * once their device's daemon_timeout has passed (at once with fail_fast).
 */
#include <linux/capability.h>
#include <linux/idr.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "dm-rcache.h"

static unsigned int max_fetches_sent = 512;
module_param(max_fetches_sent, uint, 0644);
MODULE_PARM_DESC(max_fetches_sent,
		 "Fetches the daemon may hold at once (credit window)");

#define RCACHE_RETRY_DELAY	msecs_to_jiffies(5)

struct rcache_daemon {
	spinlock_t lock;		/* everything below */
	bool present;
	u32 portid;
	pid_t pid;
	unsigned long lost_at;		/* jiffies */
	struct idr req_ids;
	struct list_head queue;		/* QUEUED demand fetches, oldest first */
	struct list_head pqueue;	/* QUEUED prefetches: sent after demand */
	struct list_head sent;		/* SENT fetches */
	struct list_head orphans;	/* SENT for a removed device, unanswered */
	struct list_head upgrades;	/* SENT prefetches a reader now waits for */
	unsigned int nr_sent;
	atomic64_t stale_replies;

	struct workqueue_struct *wq;
	struct delayed_work send_work;
	struct delayed_work timeout_work;
};

static struct rcache_daemon rcache_daemon;
static struct genl_family rcache_genl_family;

bool rcache_daemon_present(void)
{
	return READ_ONCE(rcache_daemon.present);
}

u64 rcache_daemon_stale_replies(void)
{
	return atomic64_read(&rcache_daemon.stale_replies);
}

/* ------------------------------------------------------------------ */
/* Queueing and sending                                                */

/* Demand misses always go before prefetches and warm-up. */
static struct list_head *rcache_queue_of(struct rcache_daemon *d, struct rcache_fetch *f)
{
	return f->flags & RCACHE_FETCH_F_PREFETCH ? &d->pqueue : &d->queue;
}

static void rcache_kick_send(struct rcache_daemon *d, unsigned long delay)
{
	mod_delayed_work(d->wq, &d->send_work, delay);
}

void rcache_daemon_queue(struct rcache_fetch *f)
{
	struct rcache_daemon *d = &rcache_daemon;
	bool present;

	spin_lock(&d->lock);
	f->state = RCACHE_FETCH_QUEUED;
	list_add_tail(&f->entry, rcache_queue_of(d, f));
	present = d->present;
	spin_unlock(&d->lock);

	if (present)
		rcache_kick_send(d, 0);
	else
		queue_delayed_work(d->wq, &d->timeout_work, HZ);
}

/* Takes @f off the daemon's lists; the caller then completes it. */
static void rcache_detach_locked(struct rcache_daemon *d,
				 struct rcache_fetch *f)
{
	lockdep_assert_held(&d->lock);
	if (f->req_id)
		idr_remove(&d->req_ids, f->req_id);
	if (f->state == RCACHE_FETCH_SENT)
		d->nr_sent--;
	list_del_init(&f->entry);
	list_del_init(&f->upgrade);
	atomic_inc(&f->rc->completing);
}

struct rcache_fetch_msg {
	u64 dev_id;
	u32 req_id;
	u64 block;
	u64 origin_offset;
	u32 length;
	u64 cache_offset;
	u32 flags;
};

static int rcache_send_fetch(u32 portid, const struct rcache_fetch_msg *m)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_NOIO);
	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put(skb, 0, 0, &rcache_genl_family, 0, RCACHE_CMD_FETCH);
	if (!hdr)
		goto too_big;
	if (nla_put_u64_64bit(skb, RCACHE_ATTR_DEV_ID, m->dev_id, RCACHE_ATTR_PAD) ||
	    nla_put_u32(skb, RCACHE_ATTR_REQ_ID, m->req_id) ||
	    nla_put_u64_64bit(skb, RCACHE_ATTR_BLOCK, m->block, RCACHE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, RCACHE_ATTR_ORIGIN_OFFSET, m->origin_offset,
			      RCACHE_ATTR_PAD) ||
	    nla_put_u32(skb, RCACHE_ATTR_LENGTH, m->length) ||
	    nla_put_u64_64bit(skb, RCACHE_ATTR_CACHE_OFFSET, m->cache_offset,
			      RCACHE_ATTR_PAD) ||
	    nla_put_u32(skb, RCACHE_ATTR_FLAGS, m->flags))
		goto too_big;
	genlmsg_end(skb, hdr);
	return genlmsg_unicast(&init_net, skb, portid);
too_big:
	nlmsg_free(skb);
	return -EMSGSIZE;
}

static void rcache_fetch_describe(struct rcache_fetch *f, struct rcache_fetch_msg *m)
{
	m->dev_id = f->rc->dev_id;
	m->req_id = f->req_id;
	m->block = f->block;
	rcache_fill_origin_range(f->rc, f->block, &m->origin_offset, &m->length);
	m->cache_offset = rcache_cache_offset(f->rc, f->slot);
	m->flags = f->flags;
}

/*
 * Takes the next message for the daemon: a prefetch it holds that a reader
 * now waits for (the same FETCH again, with RCACHE_FETCH_F_UPGRADE; no
 * credit), else the oldest queued fetch, which moves to the sent list.
 * Returns false when there is nothing to send or no credit.
 */
static bool rcache_take_next_locked(struct rcache_daemon *d,
				    struct rcache_fetch_msg *m,
				    struct rcache_fetch **fp, u32 *portid)
{
	struct rcache_fetch *f;
	int id;

	if (d->present && !list_empty(&d->upgrades)) {
		f = list_first_entry(&d->upgrades, struct rcache_fetch, upgrade);
		list_del_init(&f->upgrade);
		rcache_fetch_describe(f, m);
		m->flags |= RCACHE_FETCH_F_UPGRADE;
		*fp = f;
		*portid = d->portid;
		return true;
	}
	if (!d->present || d->nr_sent >= max(max_fetches_sent, 1U) ||
	    (list_empty(&d->queue) && list_empty(&d->pqueue)))
		return false;
	f = list_first_entry(list_empty(&d->queue) ? &d->pqueue : &d->queue,
			     struct rcache_fetch, entry);
	if (!f->req_id) {
		id = idr_alloc_cyclic(&d->req_ids, f, 1, INT_MAX, GFP_NOWAIT);
		if (id < 0)
			return false;
		f->req_id = id;
	}
	list_move_tail(&f->entry, &d->sent);
	f->state = RCACHE_FETCH_SENT;
	d->nr_sent++;
	rcache_fetch_describe(f, m);
	*fp = f;
	*portid = d->portid;
	return true;
}

static void rcache_send_work(struct work_struct *work)
{
	struct rcache_daemon *d = container_of(to_delayed_work(work),
					       struct rcache_daemon, send_work);
	struct rcache_fetch_msg m;
	struct rcache_fetch *f;
	u32 portid;
	int r;

	for (;;) {
		idr_preload(GFP_NOIO);
		spin_lock(&d->lock);
		if (!rcache_take_next_locked(d, &m, &f, &portid)) {
			spin_unlock(&d->lock);
			idr_preload_end();
			return;
		}
		spin_unlock(&d->lock);
		idr_preload_end();

		r = rcache_send_fetch(portid, &m);
		if (!r)
			continue;

		/*
		 * Not delivered: the fetch goes back to the head of the queue
		 * (an upgrade, to the head of the upgrades).
		 */
		spin_lock(&d->lock);
		if (idr_find(&d->req_ids, m.req_id) == f &&
		    f->state == RCACHE_FETCH_SENT) {
			if (m.flags & RCACHE_FETCH_F_UPGRADE) {
				if (list_empty(&f->upgrade))
					list_add(&f->upgrade, &d->upgrades);
			} else {
				f->state = RCACHE_FETCH_QUEUED;
				list_move(&f->entry, rcache_queue_of(d, f));
				list_del_init(&f->upgrade);
				d->nr_sent--;
			}
		}
		spin_unlock(&d->lock);
		if (r != -ECONNREFUSED)
			rcache_kick_send(d, RCACHE_RETRY_DELAY);
		return;
	}
}

static void rcache_orphan_free_locked(struct rcache_daemon *d, struct rcache_fetch *f)
{
	lockdep_assert_held(&d->lock);
	idr_remove(&d->req_ids, f->req_id);
	list_del(&f->entry);
	rcache_fetch_free(f);
}

/*
 * The daemon is gone: what it held will be sent to the next one.  Fills of
 * removed devices are forgotten: the socket closes as the process exits, and
 * an exiting daemon starts no more writes.
 */
static void rcache_daemon_lost_locked(struct rcache_daemon *d)
{
	struct rcache_fetch *f, *tmp;

	lockdep_assert_held(&d->lock);
	d->present = false;
	d->lost_at = jiffies;
	/* what was sent goes again, as a whole, to the next daemon */
	list_for_each_entry_safe(f, tmp, &d->upgrades, upgrade)
		list_del_init(&f->upgrade);
	list_for_each_entry_safe_reverse(f, tmp, &d->sent, entry) {
		f->state = RCACHE_FETCH_QUEUED;
		f->flags |= RCACHE_FETCH_F_RESEND;
		list_move(&f->entry, rcache_queue_of(d, f));
	}
	d->nr_sent = 0;
	list_for_each_entry_safe(f, tmp, &d->orphans, entry)
		rcache_orphan_free_locked(d, f);
}

static void rcache_daemon_lost(struct rcache_daemon *d, const char *why)
{
	pid_t pid = d->pid;

	DMWARN("fill daemon (pid %d) %s; misses wait for it to return", pid, why);
	rcache_daemon_event(RCACHE_EVENT_DAEMON_LOST, NULL);
	mod_delayed_work(d->wq, &d->timeout_work, 0);
}

/* Fails queued fetches whose daemon_timeout ran out (or fail_fast ones). */
static void rcache_timeout_work(struct work_struct *work)
{
	struct rcache_daemon *d = container_of(to_delayed_work(work),
					       struct rcache_daemon,
					       timeout_work);
	struct list_head *queues[] = { &d->queue, &d->pqueue };
	struct rcache_fetch *f, *tmp;
	unsigned long now = jiffies, since;
	LIST_HEAD(expired);
	bool waiting = false;
	int q;

	spin_lock(&d->lock);
	if (d->present) {
		spin_unlock(&d->lock);
		return;
	}
	for (q = 0; q < ARRAY_SIZE(queues); q++) {
		list_for_each_entry_safe(f, tmp, queues[q], entry) {
			since = time_after(d->lost_at, f->queued_at) ? d->lost_at :
				f->queued_at;
			if (f->rc->fail_fast ||
			    time_after_eq(now, since + f->rc->daemon_timeout * HZ)) {
				rcache_detach_locked(d, f);
				list_add_tail(&f->entry, &expired);
			} else {
				waiting = true;
			}
		}
	}
	spin_unlock(&d->lock);

	list_for_each_entry_safe(f, tmp, &expired, entry) {
		list_del_init(&f->entry);
		rcache_fetch_complete(f, -ETIMEDOUT, BLK_STS_IOERR);
	}
	if (waiting)
		queue_delayed_work(d->wq, &d->timeout_work, HZ);
}

/*
 * Takes the fetches of @rc that no daemon has (QUEUED) off the queues and
 * hands them to the caller to cancel: nobody writes their slots.  Only the
 * kernel's own prefetches with @prefetch_only.  Fetches a daemon holds are
 * left to be answered: it may be writing their slots.
 */
void rcache_daemon_cancel_queued(struct rcache *rc, bool prefetch_only, struct list_head *out)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct list_head *queues[] = { &d->queue, &d->pqueue };
	struct rcache_fetch *f, *tmp;
	int q;

	spin_lock(&d->lock);
	for (q = 0; q < ARRAY_SIZE(queues); q++)
		list_for_each_entry_safe(f, tmp, queues[q], entry)
			if (f->rc == rc && (!prefetch_only || f->pf)) {
				rcache_detach_locked(d, f);
				list_add_tail(&f->entry, out);
			}
	spin_unlock(&d->lock);
}

/*
 * A removed device's fetches the daemon did not answer in time: @rc forgets
 * them (called with rc->lock held), but the kernel remembers which bytes of
 * the cache device they write until the daemon answers or goes away, so
 * that a device created on it later keeps those slots out of use.
 */
unsigned int rcache_daemon_orphan_device(struct rcache *rc)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct rcache_fetch *f, *tmp;
	unsigned int n = 0;

	lockdep_assert_held(&rc->lock);
	spin_lock(&d->lock);
	list_for_each_entry_safe(f, tmp, &d->sent, entry) {
		if (f->rc != rc)
			continue;
		f->orphan_dev = rc->cache_dev->bdev->bd_dev;
		f->orphan_offset = rcache_cache_offset(rc, f->slot);
		f->orphan_len = rc->block_sectors << SECTOR_SHIFT;
		f->state = RCACHE_FETCH_ORPHAN;
		f->rc = NULL;
		list_del_init(&f->upgrade);
		list_move_tail(&f->entry, &d->orphans);
		d->nr_sent--;
		hash_del(&f->hash);
		rc->fetches_inflight--;
		n++;
	}
	spin_unlock(&d->lock);
	return n;
}

/*
 * Byte ranges of cache device @dev that unanswered fills of removed devices
 * may still write: up to @max of them in @ranges.  Returns how many there
 * are.
 */
unsigned int rcache_daemon_orphan_ranges(dev_t dev, struct rcache_range *ranges,
					 unsigned int max)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct rcache_fetch *f;
	unsigned int n = 0;

	spin_lock(&d->lock);
	list_for_each_entry(f, &d->orphans, entry) {
		if (f->orphan_dev != dev)
			continue;
		if (n < max) {
			ranges[n].offset = f->orphan_offset;
			ranges[n].len = f->orphan_len;
		}
		n++;
	}
	spin_unlock(&d->lock);
	return n;
}

/*
 * A read now waits on a prefetch (or warm-up) fill: it becomes a demand
 * fetch.  Not queued yet: it will be queued as one.  Queued: it moves to the
 * demand queue.  Sent: the daemon is told (RCACHE_FETCH_F_UPGRADE), so that
 * it serves the fill ahead of its prefetches.  Called with the device lock
 * held (f cannot end).
 */
void rcache_daemon_upgrade(struct rcache_fetch *f)
{
	struct rcache_daemon *d = &rcache_daemon;
	bool kick = false;

	spin_lock(&d->lock);
	if (f->flags & RCACHE_FETCH_F_PREFETCH) {
		f->flags &= ~RCACHE_FETCH_F_PREFETCH;
		if (f->state == RCACHE_FETCH_QUEUED) {
			list_move_tail(&f->entry, &d->queue);
		} else if (f->state == RCACHE_FETCH_SENT && list_empty(&f->upgrade)) {
			list_add_tail(&f->upgrade, &d->upgrades);
			kick = d->present;
		}
	}
	spin_unlock(&d->lock);
	if (kick)
		rcache_kick_send(d, 0);
}

static int rcache_netlink_notify(struct notifier_block *nb,
				 unsigned long state, void *ptr)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct netlink_notify *n = ptr;
	bool lost = false;

	if (state != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !net_eq(n->net, &init_net))
		return NOTIFY_DONE;
	spin_lock(&d->lock);
	if (d->present && d->portid == n->portid) {
		rcache_daemon_lost_locked(d);
		lost = true;
	}
	spin_unlock(&d->lock);
	if (lost)
		rcache_daemon_lost(d, "closed its netlink socket");
	return NOTIFY_DONE;
}

static struct notifier_block rcache_netlink_notifier = {
	.notifier_call = rcache_netlink_notify,
};

/* ------------------------------------------------------------------ */
/* Messages from userspace                                             */

static int rcache_nl_pre_doit(const struct genl_ops *ops, struct sk_buff *skb,
			      struct genl_info *info)
{
	if (!netlink_capable(skb, CAP_SYS_ADMIN)) {
		GENL_SET_ERR_MSG(info, "rcache: CAP_SYS_ADMIN required");
		return -EPERM;
	}
	return 0;
}

static int rcache_nl_register(struct sk_buff *skb, struct genl_info *info)
{
	struct rcache_daemon *d = &rcache_daemon;
	u32 version;

	if (GENL_REQ_ATTR_CHECK(info, RCACHE_ATTR_PROTO_VERSION))
		return -EINVAL;
	version = nla_get_u32(info->attrs[RCACHE_ATTR_PROTO_VERSION]);
	if (version != RCACHE_GENL_VERSION) {
		GENL_SET_ERR_MSG(info, "rcache: protocol version mismatch");
		return -EPROTO;
	}

	spin_lock(&d->lock);
	if (d->present && d->portid != info->snd_portid) {
		spin_unlock(&d->lock);
		GENL_SET_ERR_MSG(info, "rcache: another fill daemon is registered");
		return -EBUSY;
	}
	/* A daemon registering again gets everything it held once more. */
	if (d->present)
		rcache_daemon_lost_locked(d);
	d->present = true;
	d->portid = info->snd_portid;
	d->pid = task_tgid_vnr(current);
	spin_unlock(&d->lock);

	DMINFO("fill daemon registered (pid %d)", d->pid);
	cancel_delayed_work(&d->timeout_work);
	rcache_kick_send(d, 0);
	return 0;
}

static int rcache_nl_unregister(struct sk_buff *skb, struct genl_info *info)
{
	struct rcache_daemon *d = &rcache_daemon;
	bool lost = false;

	spin_lock(&d->lock);
	if (d->present && d->portid == info->snd_portid) {
		rcache_daemon_lost_locked(d);
		lost = true;
	}
	spin_unlock(&d->lock);
	if (!lost) {
		GENL_SET_ERR_MSG(info, "rcache: sender is not the registered daemon");
		return -ENOENT;
	}
	rcache_daemon_lost(d, "unregistered");
	return 0;
}

static int rcache_nl_fetch_done(struct sk_buff *skb, struct genl_info *info)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct rcache_fetch *f;
	u32 req_id, err;

	if (GENL_REQ_ATTR_CHECK(info, RCACHE_ATTR_REQ_ID) ||
	    GENL_REQ_ATTR_CHECK(info, RCACHE_ATTR_ERRNO))
		return -EINVAL;
	req_id = nla_get_u32(info->attrs[RCACHE_ATTR_REQ_ID]);
	err = nla_get_u32(info->attrs[RCACHE_ATTR_ERRNO]);

	spin_lock(&d->lock);
	if (!d->present || d->portid != info->snd_portid) {
		spin_unlock(&d->lock);
		atomic64_inc(&d->stale_replies);
		GENL_SET_ERR_MSG(info, "rcache: sender is not the registered daemon");
		return -EPERM;
	}
	f = idr_find(&d->req_ids, req_id);
	if (f && f->state == RCACHE_FETCH_ORPHAN) {
		/* a removed device's fill, answered late: its slot is free of it */
		rcache_orphan_free_locked(d, f);
		spin_unlock(&d->lock);
		return 0;
	}
	if (!f || f->state != RCACHE_FETCH_SENT) {
		spin_unlock(&d->lock);
		atomic64_inc(&d->stale_replies);
		GENL_SET_ERR_MSG(info, "rcache: unknown or stale request id");
		return -ENOENT;
	}
	rcache_detach_locked(d, f);
	spin_unlock(&d->lock);

	f->cache_write_failed = err && info->attrs[RCACHE_ATTR_FLAGS] &&
		(nla_get_u32(info->attrs[RCACHE_ATTR_FLAGS]) & RCACHE_DONE_F_CACHE_WRITE);
	rcache_fetch_complete(f, -(int)err, BLK_STS_IOERR);
	rcache_kick_send(d, 0);
	return 0;
}

/* The reason for a non-ready state, copied under the lock that guards it. */
static int rcache_put_reason(struct sk_buff *skb, struct rcache *rc)
{
	char reason[RCACHE_MAX_REASON_LEN];
	bool have;

	spin_lock(&rc->lock);
	have = rc->reason;
	if (have)
		strscpy(reason, rc->reason, sizeof(reason));
	spin_unlock(&rc->lock);
	return have ? nla_put_string(skb, RCACHE_ATTR_REASON, reason) : 0;
}

/*
 * Describes @rc in a GET_STATUS reply (with counters), or in an EVENT
 * (@event != 0: ids and state only, as ctr and dtr may run under dm's name
 * lock, which dm_copy_name_and_uuid() takes).
 */
static int rcache_fill_device(struct sk_buff *skb, struct rcache *rc, u32 portid,
			      u32 seq, int flags, u8 cmd, u32 event)
{
	char name[DM_NAME_LEN];
	u64 ctr[__RCACHE_CTR_MAX];
	struct nlattr *nest;
	void *hdr;
	int i;

	hdr = genlmsg_put(skb, portid, seq, &rcache_genl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, RCACHE_ATTR_DEV_ID, rc->dev_id, RCACHE_ATTR_PAD) ||
	    nla_put_u32(skb, RCACHE_ATTR_DEV, new_encode_dev(rcache_dm_devt(rc))) ||
	    nla_put_u32(skb, RCACHE_ATTR_STATE, READ_ONCE(rc->state)))
		goto cancel;
	if (event) {
		if (nla_put_u32(skb, RCACHE_ATTR_EVENT_TYPE, event))
			goto cancel;
		genlmsg_end(skb, hdr);
		return 0;
	}

	/* The name dmsetup shows; a device being created may not have one. */
	if (dm_copy_name_and_uuid(rc->md, name, NULL))
		strscpy(name, rcache_dm_name(rc), sizeof(name));
	if (nla_put_string(skb, RCACHE_ATTR_NAME, name) ||
	    nla_put_string(skb, RCACHE_ATTR_ORIGIN, rc->origin) ||
	    nla_put_u32(skb, RCACHE_ATTR_CACHE_DEV,
			new_encode_dev(rc->cache_dev->bdev->bd_dev)) ||
	    nla_put_u32(skb, RCACHE_ATTR_BLOCK_SIZE,
			rc->block_sectors << SECTOR_SHIFT) ||
	    nla_put_u64_64bit(skb, RCACHE_ATTR_ORIGIN_SIZE, rc->origin_size,
			      RCACHE_ATTR_PAD) ||
	    (rc->identity &&
	     nla_put_string(skb, RCACHE_ATTR_IDENTITY, rc->identity)))
		goto cancel;
	if (rcache_put_reason(skb, rc))
		goto cancel;

	rcache_counters(rc, ctr);
	nest = nla_nest_start(skb, RCACHE_ATTR_COUNTERS);
	if (!nest)
		goto cancel;
	for (i = RCACHE_CTR_CACHED_BLOCKS; i < __RCACHE_CTR_MAX; i++)
		if (nla_put_u64_64bit(skb, i, ctr[i], RCACHE_CTR_PAD))
			goto cancel;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

struct rcache_lookup {
	const struct nlattr *dev_id, *dev, *name;
	struct sk_buff *skb;
	struct genl_info *info;
	int result;
};

static int rcache_lookup_one(struct rcache *rc, void *arg)
{
	struct rcache_lookup *l = arg;

	if (l->dev_id && nla_get_u64(l->dev_id) != rc->dev_id)
		return 0;
	if (l->dev && nla_get_u32(l->dev) != new_encode_dev(rcache_dm_devt(rc)))
		return 0;
	if (l->name) {
		char name[DM_NAME_LEN];

		if (dm_copy_name_and_uuid(rc->md, name, NULL) ||
		    nla_strcmp(l->name, name))
			return 0;
	}
	l->result = rcache_fill_device(l->skb, rc, l->info->snd_portid,
				       l->info->snd_seq, 0,
				       RCACHE_CMD_GET_STATUS, 0);
	return 1;
}

static int rcache_nl_get_status(struct sk_buff *skb, struct genl_info *info)
{
	struct rcache_lookup l = {
		.dev_id = info->attrs[RCACHE_ATTR_DEV_ID],
		.dev = info->attrs[RCACHE_ATTR_DEV],
		.name = info->attrs[RCACHE_ATTR_NAME],
		.info = info,
		.result = -ENODEV,
	};

	if (!l.dev_id && !l.dev && !l.name) {
		GENL_SET_ERR_MSG(info, "rcache: DEV_ID, DEV or NAME required");
		return -EINVAL;
	}
	l.skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!l.skb)
		return -ENOMEM;
	rcache_visit_devices(rcache_lookup_one, &l, 0);
	if (l.result) {
		nlmsg_free(l.skb);
		if (l.result == -ENODEV)
			GENL_SET_ERR_MSG(info, "rcache: no such device");
		return l.result;
	}
	return genlmsg_reply(l.skb, info);
}

struct rcache_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int rcache_dump_one(struct rcache *rc, void *arg)
{
	struct rcache_dump *dump = arg;
	struct netlink_callback *cb = dump->cb;

	if (rcache_fill_device(dump->skb, rc, NETLINK_CB(cb->skb).portid,
			       cb->nlh->nlmsg_seq, NLM_F_MULTI,
			       RCACHE_CMD_GET_STATUS, 0))
		return 1;
	cb->args[0] = rc->dev_id + 1;
	return 0;
}

static int rcache_nl_dump_start(struct netlink_callback *cb)
{
	if (!netlink_capable(cb->skb, CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

static int rcache_nl_dump_status(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct rcache_dump dump = { .skb = skb, .cb = cb };

	rcache_visit_devices(rcache_dump_one, &dump, cb->args[0]);
	return skb->len;
}

static int rcache_set_state_one(struct rcache *rc, void *arg)
{
	struct genl_info *info = arg;
	const struct nlattr *reason = info->attrs[RCACHE_ATTR_REASON];

	if (nla_get_u64(info->attrs[RCACHE_ATTR_DEV_ID]) != rc->dev_id)
		return 0;
	return rcache_set_state(rc, nla_get_u32(info->attrs[RCACHE_ATTR_STATE]),
				reason ? nla_data(reason) : NULL) ?: 1;
}

static int rcache_nl_set_state(struct sk_buff *skb, struct genl_info *info)
{
	int r;

	if (GENL_REQ_ATTR_CHECK(info, RCACHE_ATTR_DEV_ID) ||
	    GENL_REQ_ATTR_CHECK(info, RCACHE_ATTR_STATE))
		return -EINVAL;
	r = rcache_visit_devices(rcache_set_state_one, info, 0);
	if (r == 1)
		return 0;
	if (!r) {
		GENL_SET_ERR_MSG(info, "rcache: no such device");
		return -ENODEV;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

void rcache_daemon_event(u32 type, struct rcache *rc)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (rc) {
		if (rcache_fill_device(skb, rc, 0, 0, 0, RCACHE_CMD_EVENT, type))
			goto drop;
	} else {
		hdr = genlmsg_put(skb, 0, 0, &rcache_genl_family, 0,
				  RCACHE_CMD_EVENT);
		if (!hdr || nla_put_u32(skb, RCACHE_ATTR_EVENT_TYPE, type))
			goto drop;
		genlmsg_end(skb, hdr);
	}
	genlmsg_multicast(&rcache_genl_family, skb, 0, 0, GFP_KERNEL);
	return;
drop:
	nlmsg_free(skb);
}

/* ------------------------------------------------------------------ */
/* Family                                                              */

/* The attribute policy, rcache_nl_policy, is in dm-rcache-nlpolicy.c. */

static const struct genl_ops rcache_nl_ops[] = {
	{
		.cmd = RCACHE_CMD_REGISTER,
		.flags = GENL_ADMIN_PERM,
		.doit = rcache_nl_register,
	},
	{
		.cmd = RCACHE_CMD_UNREGISTER,
		.flags = GENL_ADMIN_PERM,
		.doit = rcache_nl_unregister,
	},
	{
		.cmd = RCACHE_CMD_FETCH_DONE,
		.flags = GENL_ADMIN_PERM,
		.doit = rcache_nl_fetch_done,
	},
	{
		.cmd = RCACHE_CMD_GET_STATUS,
		.flags = GENL_ADMIN_PERM,
		.doit = rcache_nl_get_status,
		.start = rcache_nl_dump_start,
		.dumpit = rcache_nl_dump_status,
	},
	{
		.cmd = RCACHE_CMD_SET_STATE,
		.flags = GENL_ADMIN_PERM,
		.doit = rcache_nl_set_state,
	},
};

static const struct genl_multicast_group rcache_nl_mcgrps[] = {
	{
		.name = RCACHE_GENL_MCGRP_EVENTS,
#ifdef GENL_MCAST_CAP_SYS_ADMIN
		.flags = GENL_MCAST_CAP_SYS_ADMIN,
#endif
	},
};

static struct genl_family rcache_genl_family __ro_after_init = {
	.name = RCACHE_GENL_NAME,
	.version = RCACHE_GENL_VERSION,
	.maxattr = RCACHE_ATTR_MAX,
	.policy = rcache_nl_policy,
	.pre_doit = rcache_nl_pre_doit,
	.module = THIS_MODULE,
	.ops = rcache_nl_ops,
	.n_ops = ARRAY_SIZE(rcache_nl_ops),
	.resv_start_op = RCACHE_CMD_REGISTER,
	.mcgrps = rcache_nl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(rcache_nl_mcgrps),
};

int rcache_netlink_init(void)
{
	struct rcache_daemon *d = &rcache_daemon;
	int r;

	spin_lock_init(&d->lock);
	idr_init(&d->req_ids);
	INIT_LIST_HEAD(&d->queue);
	INIT_LIST_HEAD(&d->pqueue);
	INIT_LIST_HEAD(&d->sent);
	INIT_LIST_HEAD(&d->orphans);
	INIT_LIST_HEAD(&d->upgrades);
	atomic64_set(&d->stale_replies, 0);
	INIT_DELAYED_WORK(&d->send_work, rcache_send_work);
	INIT_DELAYED_WORK(&d->timeout_work, rcache_timeout_work);
	d->wq = alloc_ordered_workqueue("dm-rcache", WQ_MEM_RECLAIM);
	if (!d->wq)
		return -ENOMEM;
	r = netlink_register_notifier(&rcache_netlink_notifier);
	if (r)
		goto bad_notifier;
	r = genl_register_family(&rcache_genl_family);
	if (r)
		goto bad_family;
	return 0;
bad_family:
	netlink_unregister_notifier(&rcache_netlink_notifier);
bad_notifier:
	destroy_workqueue(d->wq);
	return r;
}

void rcache_netlink_exit(void)
{
	struct rcache_daemon *d = &rcache_daemon;
	struct rcache_fetch *f, *tmp;

	genl_unregister_family(&rcache_genl_family);
	netlink_unregister_notifier(&rcache_netlink_notifier);
	cancel_delayed_work_sync(&d->send_work);
	cancel_delayed_work_sync(&d->timeout_work);
	spin_lock(&d->lock);
	list_for_each_entry_safe(f, tmp, &d->orphans, entry)
		rcache_orphan_free_locked(d, f);
	spin_unlock(&d->lock);
	destroy_workqueue(d->wq);
	idr_destroy(&d->req_ids);
}
