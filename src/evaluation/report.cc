#include "evaluation/report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/json_quote.h"
#include "evaluation/feature_importance.h"
#include "google/protobuf/util/json_util.h"

namespace rerank {
namespace {

constexpr const char* kMetricKeys[] = {"hr", "ndcg", "mrr"};

const Interval& MetricOf(const StrategyMetrics& m, int metric) {
  return metric == 0 ? m.hit : metric == 1 ? m.ndcg : m.mrr;
}
const Interval& DiffOf(const StrategyMetrics& m, int metric) {
  return metric == 0 ? m.d_hit : metric == 1 ? m.d_ndcg : m.d_mrr;
}

std::string MetricName(int metric, int cutoff) {
  return metric == 2 ? "MRR"
                     : absl::StrCat(metric == 0 ? "HR@" : "NDCG@", cutoff);
}

// "0.1234 [0.1200, 0.1300]", or with signs; "n/a" when undefined.
std::string FormatInterval(const Interval& v, bool sign = false) {
  if (!std::isfinite(v.point)) return "n/a";
  return sign ? absl::StrFormat("%+.4f [%+.4f, %+.4f]", v.point, v.lo, v.hi)
              : absl::StrFormat("%.4f [%.4f, %.4f]", v.point, v.lo, v.hi);
}

bool Significant(const Interval& d) {
  return std::isfinite(d.point) && (d.lo > 0 || d.hi < 0);
}

std::string IsoTime(double unix_seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixMicros(static_cast<int64_t>(
                              std::llround(unix_seconds * 1e6))),
                          absl::UTCTimeZone());
}

// ---- JSON -----------------------------------------------------------------

std::string JsonString(absl::string_view s) { return JsonQuote(s); }

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.6g", v);
}

std::string JsonInterval(const Interval& i) {
  return absl::StrCat("{\"point\": ", JsonNumber(i.point),
                      ", \"lo\": ", JsonNumber(i.lo),
                      ", \"hi\": ", JsonNumber(i.hi), "}");
}

std::string ParamsJson(const v1::ScoringParams& p) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(p, &out, o).ok()) {
    return "{}";
  }
  return out;
}

std::string RulesJson(const v1::Rules& rules) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(rules, &out, o).ok()) {
    return "{}";
  }
  return out;
}

std::string WeightsJson(const ScoringWeights& w) {
  return absl::StrCat(
      "{\"base_weight\": ", JsonNumber(w.base_weight),
      ", \"factor_weight\": ", JsonNumber(w.factor_weight),
      ", \"neighbor_weight\": ", JsonNumber(w.neighbor_weight),
      ", \"half_life_seconds\": ", JsonNumber(w.half_life_seconds),
      ", \"session_blend\": ", JsonNumber(w.session_blend),
      ", \"view_weight\": ", JsonNumber(w.view_weight),
      ", \"click_weight\": ", JsonNumber(w.click_weight),
      ", \"add_to_cart_weight\": ", JsonNumber(w.add_to_cart_weight),
      ", \"purchase_weight\": ", JsonNumber(w.purchase_weight),
      ", \"wishlist_weight\": ", JsonNumber(w.wishlist_weight),
      ", \"purchase_demotion\": ", JsonNumber(w.purchase_demotion),
      ", \"max_event_age_seconds\": ", JsonNumber(w.max_event_age_seconds),
      ", \"keep_out_of_stock\": ", w.keep_out_of_stock ? "true" : "false", "}");
}

// ---- HTML -----------------------------------------------------------------

std::string Html(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr const char* kPalette[] = {"#7f7f7f", "#1f77b4", "#2ca02c", "#d62728",
                                    "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                    "#17becf", "#bcbd22", "#393b79", "#ad494a"};

const char* Colour(size_t strategy) {
  return kPalette[strategy % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

// One SVG with a panel per metric; each panel has a bar per strategy from 0
// to the point estimate and a whisker over the CI. `diffs` plots the paired
// differences vs the baseline (the baseline itself is left out), around a
// zero line.
std::string SvgChart(const EvalReport& r, const SegmentReport& seg,
                     bool diffs) {
  const int num = static_cast<int>(r.strategies.size());
  const int first = diffs ? 1 : 0;
  const int bars = num - first;
  const double panel_w = 40.0 + 34.0 * bars;
  // Room below the plot for the names, written at -40 degrees: about 6.5 px
  // per character at font-size 11, times sin(40 deg).
  size_t longest = 0;
  for (const StrategyInfo& s : r.strategies) {
    longest = std::max(longest, s.name.size());
  }
  const double top = 28, left = 44, plot_h = 122;
  const double bottom = 24 + 4.2 * static_cast<double>(longest);
  const double panel_h = top + plot_h + bottom;
  const double width = 3 * (panel_w + left) + 10;
  std::string out = absl::StrFormat(
      "<svg width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n",
      width, panel_h, width, panel_h);
  for (int m = 0; m < 3; ++m) {
    double lo = 0, hi = 0;
    for (int s = first; s < num; ++s) {
      const Interval& v =
          diffs ? DiffOf(seg.metrics[s], m) : MetricOf(seg.metrics[s], m);
      lo = std::min({lo, v.lo, v.point});
      hi = std::max({hi, v.hi, v.point});
    }
    if (hi - lo <= 0) hi = lo + 1e-9;
    const double pad = 0.08 * (hi - lo);
    if (diffs || lo < 0) lo -= pad;
    hi += pad;
    const double x0 = m * (panel_w + left) + left;
    auto y = [&](double v) { return top + plot_h * (hi - v) / (hi - lo); };
    absl::StrAppendFormat(
        &out, "<text x=\"%.1f\" y=\"16\" font-weight=\"bold\">%s%s</text>\n",
        x0, MetricName(m, r.options.cutoff), diffs ? " − baseline" : "");
    // Axis with min / 0 / max ticks.
    absl::StrAppendFormat(&out,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"#333\"/>\n",
                          x0, top, x0, top + plot_h);
    std::vector<double> ticks = {lo, hi};
    if (lo < 0 && hi > 0) ticks.push_back(0);
    for (double t : ticks) {
      absl::StrAppendFormat(&out,
                            "<text x=\"%.1f\" y=\"%.1f\" "
                            "text-anchor=\"end\">%.3f</text>\n",
                            x0 - 3, y(t) + 4, t);
    }
    const double zero_y = y(std::clamp(0.0, lo, hi));
    absl::StrAppendFormat(&out,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"#333\"/>\n",
                          x0, zero_y, x0 + panel_w, zero_y);
    for (int s = first; s < num; ++s) {
      const Interval& v =
          diffs ? DiffOf(seg.metrics[s], m) : MetricOf(seg.metrics[s], m);
      const double bx = x0 + 12 + 34.0 * (s - first);
      const double y_point = y(v.point);
      absl::StrAppendFormat(
          &out,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"%.1f\" "
          "fill=\"%s\"><title>%s: %.4f [%.4f, %.4f]</title></rect>\n",
          bx, std::min(y_point, zero_y), std::fabs(zero_y - y_point), Colour(s),
          Html(r.strategies[s].name), v.point, v.lo, v.hi);
      const double cx = bx + 11;
      absl::StrAppendFormat(
          &out,
          "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" "
          "stroke=\"#000\" stroke-width=\"1.3\" fill=\"none\"/>\n",
          cx, y(v.hi), y(v.lo), cx - 5, y(v.hi), cx + 5, cx - 5, y(v.lo),
          cx + 5);
      absl::StrAppendFormat(
          &out,
          "<text transform=\"translate(%.1f %.1f) rotate(-40)\" "
          "text-anchor=\"end\">%s</text>\n",
          cx + 4, top + plot_h + 12, Html(r.strategies[s].name));
    }
  }
  out += "</svg>\n";
  return out;
}

// Accuracy against diversity: one point per strategy at (ILD@k, NDCG@k)
// with both CIs as whiskers. Strategies without a defined ILD are left out.
std::string SvgTradeOff(const EvalReport& r, const SegmentReport& seg) {
  const int num = static_cast<int>(r.strategies.size());
  double x_lo = 1e300, x_hi = -1e300, y_lo = 1e300, y_hi = -1e300;
  for (int s = 0; s < num; ++s) {
    const StrategyMetrics& m = seg.metrics[s];
    if (!std::isfinite(m.ild.point)) continue;
    x_lo = std::min(x_lo, m.ild.lo);
    x_hi = std::max(x_hi, m.ild.hi);
    y_lo = std::min(y_lo, m.ndcg.lo);
    y_hi = std::max(y_hi, m.ndcg.hi);
  }
  if (x_lo > x_hi) return "";
  auto widen = [](double* lo, double* hi) {
    if (*hi - *lo <= 0) *hi = *lo + 1e-3;
    const double pad = 0.08 * (*hi - *lo);
    *lo -= pad;
    *hi += pad;
  };
  widen(&x_lo, &x_hi);
  widen(&y_lo, &y_hi);
  const double left = 60, top = 28, plot_w = 520, plot_h = 260;
  const double width = left + plot_w + 170, height = top + plot_h + 44;
  auto x = [&](double v) { return left + plot_w * (v - x_lo) / (x_hi - x_lo); };
  auto y = [&](double v) { return top + plot_h * (y_hi - v) / (y_hi - y_lo); };
  std::string out = absl::StrFormat(
      "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n",
      width, height, width, height);
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"16\" font-weight=\"bold\">"
                        "NDCG@%d against ILD@%d (up: more accurate, right: "
                        "more diverse)</text>\n",
                        left, r.options.cutoff, r.options.cutoff);
  absl::StrAppendFormat(
      &out,
      "<path d=\"M%.1f %.1fV%.1fH%.1f\" stroke=\"#333\" fill=\"none\"/>\n",
      left, top, top + plot_h, left + plot_w);
  for (const double t : {y_lo, y_hi}) {
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" "
                          "text-anchor=\"end\">%.3f</text>\n",
                          left - 3, y(t) + 4, t);
  }
  for (const double t : {x_lo, x_hi}) {
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" "
                          "text-anchor=\"middle\">%.3f</text>\n",
                          x(t), top + plot_h + 16, t);
  }
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"%.1f\" "
                        "text-anchor=\"middle\">ILD@%d</text>\n",
                        left + plot_w / 2, top + plot_h + 34, r.options.cutoff);
  for (int s = 0; s < num; ++s) {
    const StrategyMetrics& m = seg.metrics[s];
    if (!std::isfinite(m.ild.point)) continue;
    const double cx = x(m.ild.point), cy = y(m.ndcg.point);
    absl::StrAppendFormat(
        &out,
        "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1f\" stroke=\"%s\" "
        "stroke-width=\"1.3\" fill=\"none\"/>\n",
        x(m.ild.lo), cy, x(m.ild.hi), cx, y(m.ndcg.lo), y(m.ndcg.hi),
        Colour(s));
    absl::StrAppendFormat(
        &out,
        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\">"
        "<title>%s: NDCG %.4f, ILD %.4f</title></circle>\n",
        cx, cy, Colour(s), Html(r.strategies[s].name), m.ndcg.point,
        m.ild.point);
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          cx + 7, cy - 5, Html(r.strategies[s].name));
  }
  out += "</svg>\n";
  return out;
}

std::string Pct(double f) { return absl::StrFormat("%.1f%%", 100.0 * f); }

std::string DiagnosticsLine(const SegmentReport& seg) {
  return absl::StrFormat(
      "%d cases; repeat %s; true item demoted by full %s; true item "
      "unknown to the train window %s; true item in retriever top N+1 %s; "
      "an event within one half-life %s; some candidate boosted >= 0.001 %s; "
      "mean events sent %.1f",
      seg.cases, Pct(seg.repeat_fraction), Pct(seg.demoted_fraction),
      Pct(1.0 - seg.true_item_known_fraction), Pct(seg.true_retrieved_fraction),
      Pct(seg.session_event_fraction), Pct(seg.any_boost_fraction),
      seg.mean_events);
}

// ---- Feature importance ----------------------------------------------------

constexpr int kTextImportanceTop = 8;

// The definition sentence of a ranker's importances (feature_importance.h).
std::string ImportanceDefinition(absl::string_view ranker) {
  if (ranker == "linear") {
    return "Importance of a feature = |weight| of the linear ranker; the "
           "weights act on standardised features ((x - mean) / scale), so "
           "their magnitudes compare. Normalised to sum to 1.";
  }
  if (ranker == "gbdt") {
    return "Importance of a feature = the sum of the cover (hessian sum) of "
           "every split node on it over all trees: a cover-weighted split "
           "count (XGBoost's total_cover). Normalised to sum to 1.";
  }
  return "Normalised to sum to 1.";
}

// One horizontal bar per feature, longest (most important) first, scaled to
// the largest importance, with the value after the bar.
std::string SvgImportance(const RankerImportance& ri, const char* colour) {
  size_t longest = 0;
  double max_imp = 0;
  for (const FeatureImportance& f : ri.features) {
    longest = std::max(longest, f.feature.size());
    max_imp = std::max(max_imp, f.importance);
  }
  if (max_imp <= 0) max_imp = 1;
  const double left = 12 + 6.5 * static_cast<double>(longest), top = 28,
               row_h = 18, plot_w = 420;
  const double width = left + plot_w + 60;
  const double height =
      top + row_h * static_cast<double>(ri.features.size()) + 8;
  std::string out = absl::StrFormat(
      "<svg width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n",
      width, height, width, height);
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"16\" font-weight=\"bold\">"
                        "Feature importance: %s</text>\n",
                        left, Html(ri.ranker));
  absl::StrAppendFormat(&out,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                        "y2=\"%.1f\" stroke=\"#333\"/>\n",
                        left, top - 2, left, height - 6);
  for (size_t i = 0; i < ri.features.size(); ++i) {
    const FeatureImportance& f = ri.features[i];
    const double y = top + row_h * static_cast<double>(i);
    const double w = plot_w * f.importance / max_imp;
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" "
                          "text-anchor=\"end\">%s</text>\n",
                          left - 4, y + 12, Html(f.feature));
    absl::StrAppendFormat(
        &out,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
        "fill=\"%s\"><title>%s: %.4f</title></rect>\n",
        left, y + 1, w, colour, Html(f.feature), f.importance);
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n",
                          left + w + 4, y + 12, f.importance);
  }
  out += "</svg>\n";
  return out;
}

}  // namespace

std::string FormatTextReport(const EvalReport& r) {
  std::string out;
  const int conf = static_cast<int>(std::lround(100 * r.options.confidence));
  absl::StrAppendFormat(
      &out,
      "rerank-eval: %s, split at %s; train %d interactions (%d users x %d "
      "items), test %d; %d of %d eligible test cases; retriever %s, %d "
      "candidates + the true item; %d bootstrap resamples (of %ss), %d%% "
      "CIs\n",
      r.log_source, IsoTime(r.split_time), r.train_interactions, r.train_users,
      r.train_items, r.test_interactions, r.sampled_cases, r.eligible_cases,
      RetrieverKindName(r.options.retriever), r.options.num_candidates,
      r.options.bootstrap, BootstrapUnitName(r.options.bootstrap_unit), conf);
  out += r.finish_summary;
  for (const RankerImportance& ri : r.feature_importance) {
    std::vector<std::string> top;
    for (const FeatureImportance& f : ri.features) {
      if (static_cast<int>(top.size()) == kTextImportanceTop) break;
      top.push_back(absl::StrFormat("%s %.3f", f.feature, f.importance));
    }
    absl::StrAppendFormat(&out, "feature importance (%s): %s", ri.ranker,
                          absl::StrJoin(top, ", "));
    if (ri.features.size() > top.size()) {
      absl::StrAppendFormat(&out, " (top %d of %d)", top.size(),
                            ri.features.size());
    }
    out += "\n";
  }
  for (const SegmentReport& seg : r.segments) {
    absl::StrAppendFormat(&out, "\n== %s (%s): %s\n", seg.name, seg.description,
                          DiagnosticsLine(seg));
    if (seg.metrics.empty()) continue;
    absl::StrAppendFormat(&out, "%-26s", "strategy");
    for (int m = 0; m < 3; ++m) {
      absl::StrAppendFormat(
          &out, " %-26s",
          absl::StrCat(MetricName(m, r.options.cutoff), " [", conf, "% CI]"));
    }
    out += " better/worse than baseline\n";
    for (size_t s = 0; s < r.strategies.size(); ++s) {
      const StrategyMetrics& sm = seg.metrics[s];
      absl::StrAppendFormat(&out, "%-26s", r.strategies[s].name);
      for (int m = 0; m < 3; ++m) {
        const Interval& v = MetricOf(sm, m);
        absl::StrAppendFormat(
            &out, " %-26s",
            absl::StrFormat("%.4f [%.4f, %.4f]", v.point, v.lo, v.hi));
      }
      if (s > 0) absl::StrAppendFormat(&out, " %d/%d", sm.better, sm.worse);
      out += "\n";
    }
    out += "  minus baseline (paired)\n";
    for (size_t s = 1; s < r.strategies.size(); ++s) {
      const StrategyMetrics& sm = seg.metrics[s];
      absl::StrAppendFormat(&out, "  %-24s", r.strategies[s].name);
      for (int m = 0; m < 3; ++m) {
        const Interval& d = DiffOf(sm, m);
        const bool significant = d.lo > 0 || d.hi < 0;
        absl::StrAppendFormat(
            &out, " %-26s",
            absl::StrFormat("%+.4f [%+.4f, %+.4f]%s", d.point, d.lo, d.hi,
                            significant ? "*" : ""));
      }
      out += "\n";
    }
    const int k = r.options.cutoff;
    absl::StrAppendFormat(
        &out,
        "  beyond accuracy (first %d)   %-26s %-26s %-8s | minus full "
        "(paired): %s\n",
        k, absl::StrCat("ILD@", k), absl::StrCat("coverage@", k), "catalog",
        absl::StrCat("HR@", k, ", NDCG@", k, ", ILD@", k, ", coverage@", k));
    for (size_t s = 0; s < r.strategies.size(); ++s) {
      const StrategyMetrics& sm = seg.metrics[s];
      absl::StrAppendFormat(&out, "  %-27s %-26s %-26s %-8s |",
                            r.strategies[s].name, FormatInterval(sm.ild),
                            FormatInterval(sm.coverage),
                            absl::StrFormat("%.4f", sm.catalog_coverage));
      if (static_cast<int>(s) == kFullStrategy) {
        out += " (reference)\n";
        continue;
      }
      for (const Interval* d :
           {&sm.f_hit, &sm.f_ndcg, &sm.f_ild, &sm.f_coverage}) {
        absl::StrAppend(&out, " ", FormatInterval(*d, /*sign=*/true),
                        Significant(*d) ? "*" : "");
      }
      out += "\n";
    }
  }
  out += "\n* = the paired-difference CI excludes 0\n";
  absl::StrAppendFormat(&out,
                        "seconds: train %.2f, scoring %.2f, bootstrap %.2f\n",
                        r.train_seconds, r.eval_seconds, r.bootstrap_seconds);
  return out;
}

std::string EvalReportToJson(const EvalReport& r) {
  const EvalOptions& o = r.options;
  std::string out = "{\n";
  absl::StrAppend(&out, "  \"tool\": \"rerank-eval\",\n");
  // Config.
  std::vector<std::string> variants;
  for (const ScoringVariant& v : o.variants) {
    variants.push_back(absl::StrCat(
        "{\"name\": ", JsonString(v.name), ", \"overrides\": ",
        ParamsJson(v.overrides), ", \"rules\": ", RulesJson(v.rules), "}"));
  }
  absl::StrAppend(
      &out, "  \"config\": {\n", "    \"log\": ", JsonString(r.log_source),
      ",\n", "    \"split_time\": ", JsonString(IsoTime(r.split_time)), ",\n",
      "    \"split_time_unix\": ", JsonNumber(r.split_time), ",\n",
      "    \"split_given\": ",
      o.split.split_time.has_value() ? "true" : "false", ",\n",
      "    \"test_fraction\": ", JsonNumber(o.split.test_fraction), ",\n",
      "    \"fraction_of\": ", JsonString(FractionOfName(o.split.fraction_of)),
      ",\n",
      "    \"test_event_type\": ", JsonString(EventTypeName(o.test_event_type)),
      ",\n", "    \"users\": ", JsonString(UserFilterName(o.users)), ",\n",
      "    \"max_test_cases\": ", o.max_test_cases, ",\n",
      "    \"seed\": ", o.seed, ",\n",
      "    \"num_candidates\": ", o.num_candidates, ",\n",
      "    \"retriever\": ", JsonString(RetrieverKindName(o.retriever)), ",\n",
      "    \"retriever_neighbors\": ", o.retriever_neighbors, ",\n",
      "    \"max_events\": ", o.max_events, ",\n",
      "    \"user_knn_k\": ", o.user_knn_k, ",\n", "    \"cutoff\": ", o.cutoff,
      ",\n", "    \"bootstrap\": ", o.bootstrap, ",\n",
      "    \"bootstrap_unit\": ",
      JsonString(BootstrapUnitName(o.bootstrap_unit)), ",\n",
      "    \"confidence\": ", JsonNumber(o.confidence), ",\n",
      "    \"threads\": ", o.threads, ",\n");
  absl::StrAppend(
      &out, "    \"train\": {\"factors\": ", o.train.als.factors,
      ", \"iterations\": ", o.train.als.iterations,
      ", \"regularization\": ", JsonNumber(o.train.als.regularization),
      ", \"alpha\": ", JsonNumber(o.train.als.alpha),
      ", \"cg_steps\": ", o.train.als.cg_steps,
      ", \"als_seed\": ", o.train.als.seed,
      ", \"neighbors\": ", o.train.neighbors.num_neighbors,
      ", \"min_support\": ", o.train.neighbors.min_support,
      ", \"neighbors_from\": ",
      JsonString(NeighborSourceName(o.train.neighbors.source)), "},\n",
      "    \"full_weights\": ", WeightsJson(o.full_weights), ",\n",
      "    \"item_categories\": ", o.item_categories.size(), ",\n",
      "    \"variants\": [", absl::StrJoin(variants, ", "), "]\n  },\n");
  // Data and model.
  absl::StrAppend(&out,
                  "  \"data\": {\"log_interactions\": ", r.log_interactions,
                  ", \"train_interactions\": ", r.train_interactions,
                  ", \"test_interactions\": ", r.test_interactions,
                  ", \"eligible_test_cases\": ", r.eligible_cases,
                  ", \"sampled_test_cases\": ", r.sampled_cases,
                  ", \"train_users\": ", r.train_users,
                  ", \"train_items\": ", r.train_items,
                  ", \"train_pairs\": ", r.train_pairs, "},\n");
  absl::StrAppend(
      &out, "  \"model\": {\"source\": ", JsonString(r.model_source),
      ", \"version\": ", JsonString(r.model_version),
      ", \"dim\": ", r.model_dim, ", \"users\": ", r.model_users,
      ", \"items\": ", r.model_items, ", \"neighbors\": ", r.model_neighbors,
      ", \"has_categories\": ", r.model_has_categories ? "true" : "false",
      ", \"categorized_items\": ", r.model_categorized_items,
      ", \"rankers\": ", JsonString(r.finish_summary), "},\n");
  if (!r.feature_importance.empty()) {
    std::vector<std::string> rankers;
    for (const RankerImportance& ri : r.feature_importance) {
      std::vector<std::string> features;
      for (const FeatureImportance& f : ri.features) {
        features.push_back(
            absl::StrCat("{\"feature\": ", JsonString(f.feature),
                         ", \"importance\": ", JsonNumber(f.importance), "}"));
      }
      rankers.push_back(absl::StrCat("\n    ", JsonString(ri.ranker), ": [",
                                     absl::StrJoin(features, ", "), "]"));
    }
    absl::StrAppend(&out, "  \"feature_importance\": {",
                    absl::StrJoin(rankers, ","), "\n  },\n");
  }
  absl::StrAppend(&out,
                  "  \"seconds\": {\"train\": ", JsonNumber(r.train_seconds),
                  ", \"scoring\": ", JsonNumber(r.eval_seconds),
                  ", \"bootstrap\": ", JsonNumber(r.bootstrap_seconds), "},\n");
  std::vector<std::string> strategies;
  for (size_t k = 0; k < r.strategies.size(); ++k) {
    const StrategyInfo& s = r.strategies[k];
    strategies.push_back(
        absl::StrCat("{\"name\": ", JsonString(s.name),
                     ", \"description\": ", JsonString(s.description), "}"));
  }
  absl::StrAppend(&out, "  \"strategies\": [\n    ",
                  absl::StrJoin(strategies, ",\n    "), "\n  ],\n");
  // Segments.
  std::vector<std::string> segments;
  for (const SegmentReport& seg : r.segments) {
    std::string s = absl::StrCat(
        "    {\"name\": ", JsonString(seg.name),
        ", \"description\": ", JsonString(seg.description),
        ", \"cases\": ", seg.cases, ",\n     \"diagnostics\": {",
        "\"repeat_fraction\": ", JsonNumber(seg.repeat_fraction),
        ", \"demoted_fraction\": ", JsonNumber(seg.demoted_fraction),
        ", \"true_item_known_fraction\": ",
        JsonNumber(seg.true_item_known_fraction),
        ", \"true_retrieved_fraction\": ",
        JsonNumber(seg.true_retrieved_fraction),
        ", \"session_event_fraction\": ",
        JsonNumber(seg.session_event_fraction),
        ", \"any_boost_fraction\": ", JsonNumber(seg.any_boost_fraction),
        ", \"mean_events\": ", JsonNumber(seg.mean_events), "},\n",
        "     \"metrics\": {");
    std::vector<std::string> per_strategy;
    for (size_t k = 0; k < seg.metrics.size(); ++k) {
      const StrategyMetrics& m = seg.metrics[k];
      std::string e =
          absl::StrCat("\n       ", JsonString(r.strategies[k].name), ": {");
      for (int metric = 0; metric < 3; ++metric) {
        absl::StrAppend(&e, "\"", kMetricKeys[metric],
                        "\": ", JsonInterval(MetricOf(m, metric)), ", ");
      }
      e += "\"diff_vs_baseline\": {";
      for (int metric = 0; metric < 3; ++metric) {
        absl::StrAppend(&e, metric ? ", " : "", "\"", kMetricKeys[metric],
                        "\": ", JsonInterval(DiffOf(m, metric)));
      }
      absl::StrAppend(&e, "}, \"better_than_baseline\": ", m.better,
                      ", \"worse_than_baseline\": ", m.worse);
      absl::StrAppend(
          &e, ",\n         \"ild\": ", JsonInterval(m.ild),
          ", \"ild_cases\": ", m.ild_cases,
          ", \"catalog_coverage\": ", JsonNumber(m.catalog_coverage),
          ", \"category_coverage\": ", JsonInterval(m.coverage),
          ",\n         \"diff_vs_full\": {\"hr\": ", JsonInterval(m.f_hit),
          ", \"ndcg\": ", JsonInterval(m.f_ndcg),
          ", \"ild\": ", JsonInterval(m.f_ild),
          ", \"category_coverage\": ", JsonInterval(m.f_coverage), "}}");
      per_strategy.push_back(e);
    }
    absl::StrAppend(&s, absl::StrJoin(per_strategy, ","), "}}");
    segments.push_back(s);
  }
  absl::StrAppend(&out, "  \"metric_cutoff\": ", o.cutoff, ",\n");
  absl::StrAppend(&out, "  \"segments\": [\n", absl::StrJoin(segments, ",\n"),
                  "\n  ]\n}\n");
  return out;
}

std::string EvalReportToHtml(const EvalReport& r) {
  const EvalOptions& o = r.options;
  const int conf = static_cast<int>(std::lround(100 * o.confidence));
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>rerank-eval report</title>\n<style>\n"
      "body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}\n"
      "table{border-collapse:collapse;margin:1em 0}\n"
      "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;"
      "font-variant-numeric:tabular-nums}\n"
      "th:first-child,td:first-child{text-align:left}\n"
      "td.sig{font-weight:bold}\n.note{color:#555;font-size:90%}\n"
      "</style>\n</head>\n<body>\n<h1>rerank-eval report</h1>\n";
  absl::StrAppendFormat(
      &out,
      "<p>Log <code>%s</code>, split at <b>%s</b>: train %d interactions "
      "(%d users &times; %d items, %d pairs), test %d interactions. %d of %d "
      "eligible test %s events (users: %s) scored, seed %d. Candidates: the "
      "true item plus %d from the <b>%s</b> retriever. Metrics at cut-off %d; "
      "%d%% bootstrap intervals from %d resamples (unit: %s); differences "
      "to the baseline are paired (same resamples).</p>\n",
      Html(r.log_source), IsoTime(r.split_time), r.train_interactions,
      r.train_users, r.train_items, r.train_pairs, r.test_interactions,
      r.sampled_cases, r.eligible_cases, EventTypeName(o.test_event_type),
      UserFilterName(o.users), o.seed, o.num_candidates,
      RetrieverKindName(o.retriever), o.cutoff, conf, o.bootstrap,
      BootstrapUnitName(o.bootstrap_unit));
  absl::StrAppendFormat(
      &out,
      "<p>Model: %s, version <code>%s</code>, dim %d, %d users, %d items, "
      "%d neighbour entries.</p>\n",
      Html(r.model_source), Html(r.model_version), r.model_dim, r.model_users,
      r.model_items, r.model_neighbors);
  out += "<h2>Strategies</h2>\n<ul>\n";
  for (size_t s = 0; s < r.strategies.size(); ++s) {
    absl::StrAppendFormat(
        &out,
        "<li><span style=\"color:%s\">&#9632;</span> <b>%s</b>: %s</li>\n",
        Colour(s), Html(r.strategies[s].name),
        Html(r.strategies[s].description));
  }
  out += "</ul>\n";
  if (!r.feature_importance.empty()) {
    out += "<h2>Feature importance</h2>\n";
    for (const RankerImportance& ri : r.feature_importance) {
      // The colour of the ranker's own strategy in the charts.
      size_t colour = 1;
      for (size_t s = 0; s < r.strategies.size(); ++s) {
        if (r.strategies[s].name == ri.ranker) colour = s;
      }
      out += SvgImportance(ri, Colour(colour));
      absl::StrAppendFormat(&out, "<p class=\"note\">%s</p>\n",
                            Html(ImportanceDefinition(ri.ranker)));
    }
  }
  for (const SegmentReport& seg : r.segments) {
    absl::StrAppendFormat(
        &out, "<h2>Segment %s</h2>\n<p class=\"note\">%s: %s</p>\n",
        Html(seg.name), Html(seg.description), Html(DiagnosticsLine(seg)));
    if (seg.metrics.empty()) continue;
    out += SvgChart(r, seg, /*diffs=*/false);
    out += SvgChart(r, seg, /*diffs=*/true);
    out += "<table>\n<tr><th>strategy</th>";
    for (int m = 0; m < 3; ++m) {
      absl::StrAppendFormat(&out, "<th>%s [%d%% CI]</th>",
                            MetricName(m, o.cutoff), conf);
    }
    for (int m = 0; m < 3; ++m) {
      absl::StrAppendFormat(&out, "<th>&Delta;%s vs baseline</th>",
                            MetricName(m, o.cutoff));
    }
    out += "<th>better / worse</th></tr>\n";
    for (size_t s = 0; s < r.strategies.size(); ++s) {
      const StrategyMetrics& sm = seg.metrics[s];
      absl::StrAppendFormat(&out, "<tr><td>%s</td>",
                            Html(r.strategies[s].name));
      for (int m = 0; m < 3; ++m) {
        const Interval& v = MetricOf(sm, m);
        absl::StrAppendFormat(&out, "<td>%.4f [%.4f, %.4f]</td>", v.point, v.lo,
                              v.hi);
      }
      for (int m = 0; m < 3; ++m) {
        const Interval& d = DiffOf(sm, m);
        if (s == 0) {
          out += "<td>&mdash;</td>";
          continue;
        }
        const bool sig = d.lo > 0 || d.hi < 0;
        absl::StrAppendFormat(&out, "<td%s>%+.4f [%+.4f, %+.4f]</td>",
                              sig ? " class=\"sig\"" : "", d.point, d.lo, d.hi);
      }
      if (s == 0) {
        out += "<td>&mdash;</td></tr>\n";
      } else {
        absl::StrAppendFormat(&out, "<td>%d / %d</td></tr>\n", sm.better,
                              sm.worse);
      }
    }
    out += "</table>\n";
    // Beyond accuracy: the trade-off against `full`.
    const int k = o.cutoff;
    absl::StrAppendFormat(
        &out,
        "<h3>Accuracy against diversity (%s)</h3>\n<p class=\"note\">Over "
        "each strategy's first %d: ILD@%d = mean pairwise cosine distance of "
        "the items' factor vectors (lists with &lt; 2 items with factors "
        "left out: %d of %d for full); coverage@%d = distinct model "
        "categories / list length (an item without a category counts as one "
        "shared &quot;none&quot;)%s; catalog = distinct model items in any "
        "first %d of the segment / %d model items. Differences are paired, "
        "against <b>full</b>.</p>\n",
        Html(seg.name), k, k,
        seg.cases - (seg.metrics.size() > kFullStrategy
                         ? seg.metrics[kFullStrategy].ild_cases
                         : 0),
        seg.cases, k,
        r.model_has_categories ? "" : " &mdash; the model has no categories", k,
        r.model_items);
    out += SvgTradeOff(r, seg);
    out += "<table>\n<tr><th>strategy</th>";
    for (const std::string& h :
         {absl::StrCat("HR@", k), absl::StrCat("NDCG@", k),
          absl::StrCat("ILD@", k), absl::StrCat("coverage@", k)}) {
      absl::StrAppendFormat(&out, "<th>%s [%d%% CI]</th>", h, conf);
    }
    out += "<th>catalog</th>";
    for (const std::string& h :
         {absl::StrCat("HR@", k), absl::StrCat("NDCG@", k),
          absl::StrCat("ILD@", k), absl::StrCat("coverage@", k)}) {
      absl::StrAppendFormat(&out, "<th>&Delta;%s vs full</th>", h);
    }
    out += "</tr>\n";
    for (size_t s = 0; s < r.strategies.size(); ++s) {
      const StrategyMetrics& sm = seg.metrics[s];
      absl::StrAppendFormat(&out, "<tr><td>%s</td>",
                            Html(r.strategies[s].name));
      for (const Interval* v : {&sm.hit, &sm.ndcg, &sm.ild, &sm.coverage}) {
        absl::StrAppendFormat(&out, "<td>%s</td>", FormatInterval(*v));
      }
      absl::StrAppendFormat(&out, "<td>%s</td>",
                            absl::StrFormat("%.4f", sm.catalog_coverage));
      for (const Interval* d :
           {&sm.f_hit, &sm.f_ndcg, &sm.f_ild, &sm.f_coverage}) {
        if (static_cast<int>(s) == kFullStrategy) {
          out += "<td>&mdash;</td>";
          continue;
        }
        absl::StrAppendFormat(&out, "<td%s>%s</td>",
                              Significant(*d) ? " class=\"sig\"" : "",
                              FormatInterval(*d, /*sign=*/true));
      }
      out += "</tr>\n";
    }
    out += "</table>\n";
  }
  out +=
      "<p class=\"note\">Bold differences: the paired interval excludes 0. "
      "Generated by rerank-eval; see docs/evaluation.md.</p>\n</body>\n"
      "</html>\n";
  return out;
}

absl::Status WriteStringToFile(const std::string& path,
                               const std::string& contents) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    return absl::InternalError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  f << contents;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace rerank
