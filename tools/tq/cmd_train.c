/* tq train: train a zoo model or an ONNX model, in float or with
 * quantization, and write the result as ONNX. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "model_util.h"

static const char help[] =
    "usage: tq train --model M --data D -o OUT.onnx [options]\n"
    "\n"
    "Trains a classifier with softmax cross-entropy and writes it as ONNX\n"
    "(runnable by ONNX Runtime and tq run). Extrinsic, weight and intrinsic\n"
    "quantizers act in the forward pass; gradients pass straight through\n"
    "them (ste=clipped in a spec masks them to the quantizer's range).\n"
    "A checkpoint is written after every epoch (and on Ctrl-C).\n"
    "\n"
    "options:\n"
    "  -m, --model M      a zoo model (lenet, resnet8) or MODEL.onnx (its\n"
    "                     weights become trainable parameters)\n"
    "  -d, --data D       fashion-mnist, a directory of IDX files, or\n"
    "                     X.npy,y.npy\n"
    "  -o, --output FILE  the trained model (.onnx), written atomically\n"
    "      --epochs N     epochs (default 15)\n"
    "      --batch N      batch size (default 64)\n"
    "      --optimizer O  sgd or adam (default adam)\n"
    "      --lr X         learning rate (default 1e-3 for adam, 0.05 sgd)\n"
    "      --momentum X   SGD momentum (default 0.9)\n"
    "      --nesterov     Nesterov momentum (SGD)\n"
    "      --weight-decay X  L2 weight decay (default 0)\n"
    "      --schedule S   constant, step or cosine (default cosine)\n"
    "      --step-epochs N, --gamma X   step schedule (default 5, 0.5)\n"
    "      --val-fraction F  held out for validation (default 0.0833:\n"
    "                     5000 of Fashion-MNIST's 60000)\n"
    "      --limit N      train on the first N samples only (quick runs)\n"
    "      --normalize M:S[,M:S...]  feed (x - M) / S per channel (the zoo\n"
    "                     models normalize inside the graph already)\n"
    "      --seed N       weights, shuffling, Dropout, stochastic rounding\n"
    "                     (default 1)\n"
    "      --checkpoint FILE  checkpoint path (default OUT.onnx.ckpt)\n"
    "      --resume FILE  continue from a checkpoint\n" TQ_CLI_MAPS_HELP
        TQ_CLI_TRAIN_MAPS_HELP
    "      --chunks K     compute each batch's gradient in K equal chunks\n"
    "                     added in order (default: 1, under mpirun one per\n"
    "                     rank); the result does not depend on how many\n"
    "                     ranks share the chunks\n"
    "      --threads N    threads (results do not depend on it)\n"
    "      --json         one JSON object per epoch on stdout\n"
    "  -q, --quiet        no progress bar\n"
    "\n"
    "Under mpirun (tq built with MPI), every rank trains on its chunks of\n"
    "each batch and the chunks' gradients are added in chunk order: the\n"
    "same bits as one process with the same --batch and --chunks\n"
    "(docs/mpi.md). Rank 0 prints and writes the files.\n"
    "\n"
    "examples:\n"
    "  tq train --model lenet --data fashion-mnist -o lenet.onnx\n"
    "  tq train --model lenet --data fashion-mnist -o q.onnx --epochs 1 \\\n"
    "      --extr '{\"Conv1\": \"nearest,12,11\"}' \\\n"
    "      --weights '{\"Conv1\": \"nearest,32,16\", \"Dense3\": "
    "\"nearest,32,16\"}'\n"
    "  tq train --model lenet --data fashion-mnist -o sr.onnx --optimizer sgd "
    "\\\n"
    "      --updates stochastic,12,10\n"
    "  tq train --model model.onnx --data x.npy,y.npy -o tuned.onnx --lr "
    "1e-4\n";

typedef struct train_opts {
  const char *model, *data, *out, *ckpt, *resume, *normalize;
  long epochs, batch, limit, threads, chunks;
  uint64_t seed;
  double val_fraction;
  int json, quiet, lr_given;
  tq_train_config cfg;
  tq_cli_maps maps;
} train_opts;

static int parse(int argc, char **argv, train_opts *o) {
  const char *cmd = "train";
  memset(o, 0, sizeof *o);
  tq_train_config_default(&o->cfg);
  o->cfg.schedule = TQ_SCHEDULE_COSINE;
  o->epochs = 15;
  o->batch = 64;
  o->seed = 1;
  o->val_fraction = 5000.0 / 60000.0;
  o->maps.training = 1;
  tq_context *pctx = NULL;
  if (tq_context_create(&pctx) != TQ_OK) return 0;
  int ok = 1;
  for (int i = 1; ok && i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    int m = tq_cli_maps_option(cmd, &o->maps, argc, argv, &i);
    if (m < 0) {
      ok = 0;
      break;
    }
    if (m) continue;
    double d = 0.0;
    long n = 0;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
      ok = (o->model = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "-d") || !strcmp(a, "--data")) {
      ok = (o->data = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      ok = (o->out = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--checkpoint")) {
      ok = (o->ckpt = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--normalize")) {
      ok = (o->normalize = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--resume")) {
      ok = (o->resume = tq_cli_value(cmd, argc, argv, &i)) != NULL;
    } else if (!strcmp(a, "--epochs")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 100000, &o->epochs);
    } else if (!strcmp(a, "--batch")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 1 << 20, &o->batch);
    } else if (!strcmp(a, "--limit")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 1L << 40, &o->limit);
    } else if (!strcmp(a, "--chunks")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 1 << 20, &o->chunks);
    } else if (!strcmp(a, "--threads")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 4096, &o->threads);
    } else if (!strcmp(a, "--seed")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_u64(cmd, a, v, &o->seed);
    } else if (!strcmp(a, "--optimizer")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) != NULL;
      if (ok && tq_optimizer_parse(pctx, v, &o->cfg.optimizer) != TQ_OK) {
        tq_cli_error(cmd, "%s", tq_context_last_error(pctx));
        ok = 0;
      }
    } else if (!strcmp(a, "--schedule")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) != NULL;
      if (ok && tq_schedule_parse(pctx, v, &o->cfg.schedule) != TQ_OK) {
        tq_cli_error(cmd, "%s", tq_context_last_error(pctx));
        ok = 0;
      }
    } else if (!strcmp(a, "--lr")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_double(cmd, a, v, 1e-12, 1e3, &o->cfg.lr);
      o->lr_given = 1;
    } else if (!strcmp(a, "--momentum")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_double(cmd, a, v, 0.0, 0.999999, &o->cfg.momentum);
    } else if (!strcmp(a, "--nesterov")) {
      o->cfg.nesterov = 1;
    } else if (!strcmp(a, "--weight-decay")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_double(cmd, a, v, 0.0, 1.0, &o->cfg.weight_decay);
    } else if (!strcmp(a, "--step-epochs")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_int(cmd, a, v, 1, 100000, &n);
      o->cfg.step_epochs = (int)n;
    } else if (!strcmp(a, "--gamma")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_double(cmd, a, v, 0.0, 1.0, &o->cfg.step_gamma);
    } else if (!strcmp(a, "--val-fraction")) {
      ok = (v = tq_cli_value(cmd, argc, argv, &i)) &&
           tq_cli_parse_double(cmd, a, v, 0.0, 0.9, &d);
      o->val_fraction = d;
    } else if (!strcmp(a, "--json")) {
      o->json = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->quiet = 1;
    } else {
      tq_cli_error(cmd, "unexpected argument '%s' (see tq train --help)", a);
      ok = 0;
    }
  }
  tq_context_destroy(pctx);
  if (!ok) return 0;
  if (!o->model || !o->data || !o->out) {
    tq_cli_error(cmd,
                 "needs --model, --data and -o OUT.onnx (see tq train "
                 "--help)");
    return 0;
  }
  if (!o->lr_given && o->cfg.optimizer == TQ_OPTIMIZER_SGD) o->cfg.lr = 0.05;
  o->cfg.epochs = (int)o->epochs;
  return 1;
}

static tq_status load_model(tq_context *ctx, const char *name, uint64_t seed,
                            tq_graph **g) {
  const size_t len = strlen(name);
  if (len > 5 && !strcmp(name + len - 5, ".onnx"))
    return tq_onnx_load(ctx, name, g);
  return tq_model_build(ctx, name, seed, g);
}

/* A digest of everything that fixes which samples a step sees: a
 * checkpoint of another run would resume at the wrong place. FNV-1a. */
static uint64_t run_tag(const train_opts *o, size_t n_all, size_t n_train) {
  char text[8192];
  snprintf(text, sizeof text,
           "model=%s;data=%s;n=%zu;train=%zu;batch=%ld;seed=%llu;val=%.17g",
           o->model, o->data, n_all, n_train, o->batch,
           (unsigned long long)o->seed, o->val_fraction);
  uint64_t h = 14695981039346656037ull;
  for (const char *p = text; *p; p++) {
    h ^= (unsigned char)*p;
    h *= 1099511628211ull;
  }
  return h;
}

typedef struct epoch_stats {
  double loss;
  size_t correct, count;
} epoch_stats;

/* Whether any rank was interrupted (Ctrl-C reaches the ranks at different
 * moments; all must stop after the same step). */
static int any_interrupted(const tq_comm *comm, tq_status *st) {
  double flag = tq_cli_interrupted() ? 1.0 : 0.0;
  if (comm && (*st = comm->allreduce_sum_f64(comm->user, &flag, 1))) return 0;
  return flag > 0.0;
}

/* Data-parallel training must leave every rank with the same weights (and
 * running statistics): compares a digest of the graph's float
 * initializers with rank 0's. FNV-1a over the bytes. */
static int replicas_agree(const char *cmd, const tq_comm *comm,
                          const tq_graph *g, int epoch) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < tq_graph_initializer_count(g); i++) {
    const tq_tensor *w =
        tq_graph_initializer(g, tq_graph_initializer_name(g, i));
    if (!w || tq_tensor_dtype(w) != TQ_DTYPE_FLOAT32) continue;
    const unsigned char *b = tq_tensor_cdata(w);
    const size_t n = tq_tensor_numel(w) * sizeof(float);
    for (size_t k = 0; k < n; k++) {
      h ^= b[k];
      h *= 1099511628211ull;
    }
  }
  uint64_t *all = malloc((size_t)comm->size * sizeof *all);
  size_t *sizes = malloc((size_t)comm->size * sizeof *sizes);
  int ok = all && sizes;
  if (!ok) tq_cli_error(cmd, "out of memory");
  if (ok && comm->allgatherv(comm->user, &h, sizeof h, all,
                             (size_t)comm->size * sizeof *all, sizes)) {
    tq_cli_error(cmd, "comparing the ranks' weights failed: %s",
                 tq_cli_comm_last_error());
    ok = 0;
  }
  for (int r = 1; ok && r < comm->size; r++)
    if (all[r] != all[0]) {
      tq_cli_error(cmd,
                   "after epoch %d the weights of rank %d differ from rank "
                   "0's (a bug: please report it)",
                   epoch + 1, r);
      ok = 0;
    }
  free(all);
  free(sizes);
  return ok;
}

/* The trainer resolves maps per node; the warnings about keys that match
 * nothing come from a session of the same graph. */
static int check_maps(const char *cmd, tq_context *ctx, const tq_graph *g,
                      const tq_cli_maps *m, const tq_qmap_set *set) {
  if (m->view && strcmp(m->view, "nodes")) {
    tq_cli_error(cmd,
                 "--map-view %s: training resolves maps per node; the layer "
                 "view is not supported by tq train yet",
                 m->view);
    return 0;
  }
  if (!set) return 1;
  tq_session *s = NULL;
  const tq_status st = tq_session_create(ctx, g, &s);
  if (st != TQ_OK) {
    tq_cli_status_error(cmd, ctx, st);
    return 0;
  }
  const int ok = tq_cli_maps_apply(cmd, ctx, s, m, set);
  tq_session_destroy(s);
  return ok;
}

static int run(int argc, char **argv) {
  const char *cmd = "train";
  train_opts o;
  if (!parse(argc, argv, &o)) return TQ_EXIT_USAGE;
  char ckpt_default[4096];
  if (!o.ckpt) {
    snprintf(ckpt_default, sizeof ckpt_default, "%s.ckpt", o.out);
    o.ckpt = ckpt_default;
  }
  /* Under mpirun: each rank takes its chunks of every batch
   * (tq_trainer_shard); rank 0 alone prints, validates and writes files. */
  const tq_comm *comm = tq_cli_comm();
  const int root = tq_cli_comm_is_root(), ranks = tq_cli_comm_size();
  tq_context *ctx = tq_cli_context(o.threads);
  if (!ctx) return TQ_EXIT_FAILURE;
  tq_cli_catch_sigint();
  int rc = TQ_EXIT_FAILURE;
  tq_graph *g = NULL;
  tq_trainer *tr = NULL;
  tq_session *vs = NULL;
  tq_qmap_set *set = NULL;
  tq_dataset *ds = NULL;
  size_t *train_idx = NULL, *val_idx = NULL, *perm = NULL;
  size_t n_train = 0, n_val = 0;
  tq_tensor *x = NULL;
  int64_t *labels = NULL;
  tq_status st;
  if ((st = tq_cli_dataset_open(ctx, o.data, TQ_SPLIT_TRAIN, &ds))) goto fail;
  if (!tq_cli_apply_normalize(cmd, ctx, ds, o.normalize)) goto done;
  size_t n_all = tq_dataset_size(ds);
  if (o.limit > 0 && (size_t)o.limit < n_all) n_all = (size_t)o.limit;
  if ((st = tq_dataset_split_indices(ctx, n_all, o.val_fraction, o.seed,
                                     &train_idx, &n_train, &val_idx, &n_val)))
    goto fail;
  if (n_train < (size_t)o.batch) {
    tq_cli_error(cmd, "%zu training samples are fewer than one batch of %ld",
                 n_train, o.batch);
    goto done;
  }
  if ((st = load_model(ctx, o.model, o.seed, &g))) goto fail;
  if (!tq_cli_maps_load(cmd, ctx, &o.maps, &set) ||
      !check_maps(cmd, ctx, g, &o.maps, set))
    goto done;
  if ((st = tq_trainer_create(ctx, g, &o.cfg, &tr))) goto fail;
  tq_trainer_set_seed(tr, o.seed);
  tq_trainer_set_comm(tr, comm);
  size_t shard_first = 0, shard_n = 0, chunk = 0;
  if ((st = tq_trainer_set_chunks(ctx, tr, (int)o.chunks)) ||
      (st = tq_trainer_shard(ctx, tr, (size_t)o.batch, &shard_first, &shard_n,
                             &chunk)) ||
      (st = tq_trainer_set_maps(ctx, tr, set)))
    goto fail;
  const tq_shape cs = tq_dataset_batch_shape(ds, chunk);
  const tq_shape bs = tq_dataset_batch_shape(ds, shard_n);
  int64_t classes = 0;
  if ((st = tq_trainer_prepare(ctx, tr, &cs, &classes))) goto fail;
  if (classes < tq_dataset_classes(ds)) {
    tq_cli_error(cmd,
                 "the model gives %lld classes but the labels of %s go up "
                 "to %d",
                 (long long)classes, tq_dataset_name(ds),
                 tq_dataset_classes(ds) - 1);
    goto done;
  }
  if ((st = tq_tensor_create(ctx, TQ_DTYPE_FLOAT32, &bs, &x))) goto fail;
  labels = malloc(shard_n * sizeof *labels);
  perm = malloc(n_train * sizeof *perm);
  if (!labels || !perm) {
    tq_cli_error(cmd, "out of memory");
    goto done;
  }
  if ((st = tq_session_create(ctx, g, &vs))) goto fail;
  tq_session_set_seed(vs, o.seed);
  const size_t steps = n_train / (size_t)o.batch;
  /* Where to start: a checkpoint's step count gives the epoch and the step
   * inside it (checkpoints written on Ctrl-C stop mid-epoch), so a resumed
   * run takes exactly the steps an uninterrupted one would. */
  int start_epoch = 0;
  size_t first_step = 0;
  const uint64_t tag = run_tag(&o, n_all, n_train);
  if (o.resume) {
    uint64_t their_tag = 0;
    if ((st = tq_trainer_load_checkpoint(ctx, tr, o.resume, NULL, &their_tag)))
      goto fail;
    if (their_tag != tag) {
      tq_cli_error(cmd,
                   "%s was written by a run with another model, data, "
                   "--limit, --batch, --val-fraction or --seed; resume with "
                   "the options of that run",
                   o.resume);
      goto done;
    }
    const uint64_t done_steps = tq_trainer_steps(tr);
    start_epoch = (int)(done_steps / steps);
    first_step = (size_t)(done_steps % steps);
    if (root && !o.quiet && !o.json)
      fprintf(stderr,
              "resuming at epoch %d, step %zu (%llu steps done) from %s\n",
              start_epoch + 1, first_step + 1, (unsigned long long)done_steps,
              o.resume);
  }
  if (root && start_epoch >= o.epochs)
    fprintf(stderr,
            "tq train: %s is already after epoch %d of --epochs %ld: "
            "nothing to train; writing its weights to %s\n",
            o.resume, start_epoch, o.epochs, o.out);
  if (root && !o.json) {
    char on_ranks[80] = "";
    const int chunks = (int)((size_t)o.batch / chunk);
    if (chunks > 1)
      snprintf(on_ranks, sizeof on_ranks, " in %d chunks", chunks);
    if (ranks > 1)
      snprintf(on_ranks + strlen(on_ranks), sizeof on_ranks - strlen(on_ranks),
               " on %d ranks", ranks);
    printf(
        "training %s on %s: %zu samples (%zu held out), batch %ld%s, %s, "
        "%ld epoch%s\n",
        o.model, tq_dataset_name(ds), n_train, n_val, o.batch, on_ranks,
        tq_optimizer_name(o.cfg.optimizer), o.epochs, o.epochs == 1 ? "" : "s");
  }
  for (int epoch = start_epoch; epoch < o.epochs; epoch++) {
    const double lr = tq_train_lr_at(&o.cfg, epoch);
    tq_trainer_set_lr(tr, lr);
    for (size_t i = 0; i < n_train; i++) perm[i] = i;
    tq_shuffle_indices(o.seed, (uint64_t)epoch, perm, n_train);
    tq_progress bar;
    tq_progress_start(&bar, root && !o.quiet && !o.json);
    epoch_stats es = {0};
    const double t0 = tq_cli_now();
    for (size_t s = epoch == start_epoch ? first_step : 0; s < steps; s++) {
      size_t order[4096], *ord = order;
      if (shard_n > 4096 && !(ord = malloc(shard_n * sizeof *ord))) {
        tq_cli_error(cmd, "out of memory");
        goto done;
      }
      const size_t first = s * (size_t)o.batch + shard_first;
      for (size_t b = 0; b < shard_n; b++) ord[b] = train_idx[perm[first + b]];
      st = tq_dataset_gather(ctx, ds, ord, shard_n, tq_tensor_data(x), labels);
      if (ord != order) free(ord);
      if (st) goto fail;
      tq_step_result r;
      /* the global position of this shard's first sample */
      const uint64_t offset = (uint64_t)epoch * n_train + first;
      st = tq_trainer_step(ctx, tr, x, labels, offset, &r);
      if (st == TQ_ERR_NUMERIC) {
        tq_progress_end(&bar);
        /* the loss is the global batch's: every rank stops here */
        if (root)
          tq_cli_error(cmd,
                       "training diverged at epoch %d, step %zu: %s; the last "
                       "good checkpoint is %s%s",
                       epoch + 1, s + 1, tq_context_last_error(ctx),
                       epoch > start_epoch || o.resume ? o.ckpt : "(none yet)",
                       "; try a lower --lr or wider quantizers");
        goto done;
      }
      if (st) goto fail;
      es.loss += r.loss * (double)r.count;
      es.correct += r.correct;
      es.count += r.count;
      char extra[128];
      const double el = tq_cli_now() - t0;
      snprintf(extra, sizeof extra, "loss %.4f  acc %.2f %%  %.0f img/s",
               es.loss / (double)es.count,
               100.0 * (double)es.correct / (double)es.count,
               el > 0 ? (double)es.count / el : 0.0);
      char label[64];
      snprintf(label, sizeof label, "epoch %d/%ld", epoch + 1, o.epochs);
      tq_progress_update(&bar, label, s + 1, steps, extra);
      tq_status cst = TQ_OK;
      const int stop = any_interrupted(comm, &cst);
      if (cst) {
        tq_progress_end(&bar);
        tq_cli_error(cmd, "%s", tq_cli_comm_last_error());
        goto done;
      }
      if (stop) {
        tq_progress_end(&bar);
        if (root) st = tq_trainer_save_checkpoint(ctx, tr, o.ckpt, epoch, tag);
        if (st) goto fail;
        if (root)
          fprintf(stderr,
                  "tq train: interrupted in epoch %d at step %zu; checkpoint "
                  "saved to %s (continue with --resume %s)\n",
                  epoch + 1, s + 1, o.ckpt, o.ckpt);
        rc = 130;
        goto done;
      }
    }
    tq_progress_end(&bar);
    const double train_s = tq_cli_now() - t0;
    if (comm && !replicas_agree(cmd, comm, g, epoch)) goto done;
    tq_eval_result vr = {0};
    if (root && n_val) {
      if ((st = tq_session_set_maps(ctx, vs, set))) goto fail;
      if ((st = tq_evaluate(ctx, vs, ds, val_idx, n_val, 256, NULL, NULL, NULL,
                            &vr)))
        goto fail;
    }
    if (root &&
        (st = tq_trainer_save_checkpoint(ctx, tr, o.ckpt, epoch + 1, tag)))
      goto fail;
    if (!root) continue;
    const double loss = es.loss / (double)es.count;
    const double acc = (double)es.correct / (double)es.count;
    /* Without a validation set (--val-fraction 0) there is no val score:
     * null in JSON and "-" in text, not a misleading 0. */
    char val_top1[32] = "null", val_loss[32] = "null", val_text[32] = "-";
    if (n_val) {
      snprintf(val_top1, sizeof val_top1, "%.6f", vr.top1);
      snprintf(val_loss, sizeof val_loss, "%.6f", vr.loss);
      snprintf(val_text, sizeof val_text, "%.2f %%", 100.0 * vr.top1);
    }
    if (o.json)
      printf(
          "{\"epoch\": %d, \"lr\": %.6g, \"loss\": %.6f, \"train_top1\": "
          "%.6f, \"val_top1\": %s, \"val_loss\": %s, \"seconds\": "
          "%.3f, \"images_per_s\": %.1f}\n",
          epoch + 1, lr, loss, acc, val_top1, val_loss, train_s,
          (double)es.count / train_s);
    else
      printf(
          "epoch %3d/%ld  lr %.2e  loss %.4f  train %.2f %%  val %s  "
          "%.1f s  %.0f img/s\n",
          epoch + 1, o.epochs, lr, loss, 100.0 * acc, val_text, train_s,
          (double)es.count / train_s);
    fflush(stdout);
  }
  if (root && (st = tq_onnx_save(ctx, g, o.out))) goto fail;
  if (root && !o.json) printf("wrote %s\n", o.out);
  rc = TQ_EXIT_OK;
  goto done;
fail:
  tq_cli_status_error(cmd, ctx, st);
done:
  free(train_idx);
  free(val_idx);
  free(perm);
  free(labels);
  tq_tensor_destroy(x);
  tq_session_destroy(vs);
  tq_trainer_destroy(tr);
  tq_qmap_set_destroy(set);
  tq_graph_destroy(g);
  tq_dataset_destroy(ds);
  tq_context_destroy(ctx);
  return rc;
}

const tq_command tq_cmd_train = {"train",
                                 "train a classifier (float or quantized) "
                                 "and write it as ONNX",
                                 run, help};
