#include "server/metrics.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"
#include "prometheus/text_serializer.h"
#include "server/config.h"
#include "spdlog/spdlog.h"

namespace rerank {
namespace {

const std::vector<double>& CandidateBuckets() {
  static const std::vector<double> kBuckets = {
      1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  return kBuckets;
}

const std::vector<double>& EventBuckets() {
  static const std::vector<double> kBuckets = {0,  1,   2,   5,   10,  25,
                                               50, 100, 250, 500, 1000};
  return kBuckets;
}

constexpr const char* kMethodNames[] = {"Rerank", "Reload", "GetModelInfo"};

int CodeIndex(absl::StatusCode code) {
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? i : static_cast<int>(absl::StatusCode::kUnknown);
}

prometheus::MetricFamily HistogramFamily(const std::string& name,
                                         const std::string& help,
                                         const AtomicHistogram& histogram) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = prometheus::MetricType::Histogram;
  prometheus::ClientMetric metric;
  metric.histogram = histogram.Collect();
  family.metric.push_back(std::move(metric));
  return family;
}

// Opens and closes one TCP connection to host:port, ignoring failure.
void Poke(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) !=
      0) {
    return;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    close(fd);
    if (connected) break;
  }
  freeaddrinfo(found);
}

}  // namespace

AtomicHistogram::AtomicHistogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void AtomicHistogram::Observe(double value) {
  // Prometheus buckets are "le": the first bound >= value.
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram AtomicHistogram::Collect() const {
  prometheus::ClientMetric::Histogram out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = i < bounds_.size()
                             ? bounds_[i]
                             : std::numeric_limits<double>::infinity();
    out.bucket.push_back(bucket);
  }
  out.sample_count = cumulative;
  out.sample_sum = sum_.load(std::memory_order_relaxed);
  return out;
}

// The lock-free per-call histograms plus the gauges read at scrape time
// (AddGaugeSource), exposed as one prometheus::Collectable next to the
// registry.
class RerankMetrics::Histograms final : public prometheus::Collectable {
 public:
  Histograms()
      : latency(LatencyBuckets()),
        candidates(CandidateBuckets()),
        events(EventBuckets()) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    families.push_back(HistogramFamily(
        "rerank_request_duration_seconds",
        "Server time in the Rerank handler, every outcome, seconds.", latency));
    families.push_back(HistogramFamily("rerank_request_candidates",
                                       "Candidates per Rerank call.",
                                       candidates));
    families.push_back(HistogramFamily(
        "rerank_request_events", "Shopper events per Rerank call.", events));
    std::vector<GaugeSource> gauges;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gauges = gauges_;
    }
    for (const GaugeSource& gauge : gauges) {
      prometheus::MetricFamily family;
      family.name = gauge.name;
      family.help = gauge.help;
      family.type = prometheus::MetricType::Gauge;
      prometheus::ClientMetric value;
      value.gauge.value = gauge.source();
      family.metric.push_back(std::move(value));
      families.push_back(std::move(family));
    }
    return families;
  }

  void AddGaugeSource(std::string name, std::string help,
                      std::function<double()> source) {
    std::lock_guard<std::mutex> lock(mu_);
    gauges_.push_back({std::move(name), std::move(help), std::move(source)});
  }


  AtomicHistogram latency;
  AtomicHistogram candidates;
  AtomicHistogram events;

 private:
  struct GaugeSource {
    std::string name;
    std::string help;
    std::function<double()> source;
  };
  // Guards gauges_ (set-up and scrape path only).
  mutable std::mutex mu_;
  std::vector<GaugeSource> gauges_;
};

std::unique_ptr<RerankMetrics> RerankMetrics::Create() {
  return std::unique_ptr<RerankMetrics>(new RerankMetrics());
}

RerankMetrics::RerankMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      histograms_(std::make_shared<Histograms>()) {
  requests_family_ =
      &prometheus::BuildCounter()
           .Name("rerank_requests_total")
           .Help(
               "gRPC calls by method (Rerank, Reload, GetModelInfo) and "
               "status code.")
           .Register(*registry_);
  // OK rows exist from the start, so rate() over them is defined before the
  // first call; error rows appear with their first occurrence.
  for (int m = 0; m < kNumMethods; ++m) {
    RequestCounter(static_cast<Method>(m), absl::StatusCode::kOk);
  }
  auto counter = [this](const char* name, const char* help) {
    return &prometheus::BuildCounter()
                .Name(name)
                .Help(help)
                .Register(*registry_)
                .Add({});
  };
  auto gauge = [this](const char* name, const char* help) {
    return &prometheus::BuildGauge()
                .Name(name)
                .Help(help)
                .Register(*registry_)
                .Add({});
  };
  candidates_total_ = counter("rerank_candidates_total",
                              "Candidates received by successful Rerank "
                              "calls.");
  unknown_candidates_total_ = counter(
      "rerank_unknown_candidates_total",
      "Candidates of successful Rerank calls that the model does not know.");
  unknown_users_total_ =
      counter("rerank_unknown_users_total",
              "Successful Rerank calls whose user_id the model does not know.");
  anonymous_users_total_ =
      counter("rerank_anonymous_users_total",
              "Successful Rerank calls without a user_id.");

  // One row per reason code from the start (README "Merchandising"): the
  // label is the code's name without its prefix, in lower case.
  auto& rule_actions = prometheus::BuildCounter()
                           .Name("rerank_rule_actions_total")
                           .Help(
                               "Candidates removed, re-scored or moved by "
                               "merchandising rules, by reason code.")
                           .Register(*registry_);
  for (int code = 1; code < v1::ReasonCode_ARRAYSIZE; ++code) {
    if (!v1::ReasonCode_IsValid(code)) continue;
    const std::string name = absl::AsciiStrToLower(
        v1::ReasonCode_Name(static_cast<v1::ReasonCode>(code)));
    rule_actions_[code] = &rule_actions.Add(
        {{"reason", std::string(absl::StripPrefix(name, "reason_code_"))}});
  }

  reloads_family_ =
      &prometheus::BuildCounter()
           .Name("rerank_model_reloads_total")
           .Help(
               "Model loads (start-up and Reload) by outcome: OK or the "
               "status code of the refusal.")
           .Register(*registry_);
  reloads_family_->Add({{"outcome", "OK"}});
  model_info_family_ = &prometheus::BuildGauge()
                            .Name("rerank_model_info")
                            .Help("1 for the version of the served model.")
                            .Register(*registry_);
  model_loaded_ =
      gauge("rerank_model_loaded", "1 once a model is served, else 0.");
  model_loaded_timestamp_ = gauge("rerank_model_loaded_timestamp_seconds",
                                  "Unix time the served model was loaded.");
  model_load_duration_ =
      gauge("rerank_model_load_duration_seconds",
            "Resolve + load + validate time of the served model, seconds.");
  model_warmup_duration_ =
      gauge("rerank_model_warmup_duration_seconds",
            "Warm-up time of the served model before it was swapped in, "
            "seconds.");
  model_warmup_requests_ =
      gauge("rerank_model_warmup_requests",
            "Synthetic requests scored to warm up the served model.");
}

prometheus::Counter& RerankMetrics::RequestCounter(Method method,
                                                   absl::StatusCode code) {
  const int c = CodeIndex(code);
  std::atomic<prometheus::Counter*>& slot = requests_[method][c];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // First call with this code: the only label lookup it will ever need.
    counter = &requests_family_->Add(
        {{"method", kMethodNames[method]},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

void RerankMetrics::OnRerank(const v1::RerankRequest& request,
                             const v1::RerankResponse& response,
                             const absl::Status& status,
                             absl::Duration elapsed) {
  RequestCounter(kRerank, status.code()).Increment();
  histograms_->latency.Observe(absl::ToDoubleSeconds(elapsed));
  histograms_->candidates.Observe(request.candidates_size());
  histograms_->events.Observe(request.events_size());
  if (!status.ok()) return;
  const v1::RerankStats& stats = response.stats();
  candidates_total_->Increment(stats.candidates_received());
  if (stats.unknown_candidates() > 0) {
    unknown_candidates_total_->Increment(stats.unknown_candidates());
  }
  for (const v1::ReasonCount& count : stats.reasons()) {
    const int code = static_cast<int>(count.code());
    if (code > 0 && code < v1::ReasonCode_ARRAYSIZE &&
        rule_actions_[code] != nullptr) {
      rule_actions_[code]->Increment(count.count());
    }
  }
  // From the fallbacks rather than user_known: the null scorer never knows
  // the user, but it reports no user fallback either.
  for (const int fallback : response.fallbacks()) {
    if (fallback == v1::FALLBACK_UNKNOWN_USER) {
      unknown_users_total_->Increment();
    } else if (fallback == v1::FALLBACK_ANONYMOUS_USER) {
      anonymous_users_total_->Increment();
    }
  }
}

void RerankMetrics::OnAdminCall(absl::string_view method,
                                absl::StatusCode code) {
  if (method == kMethodNames[kReload]) {
    RequestCounter(kReload, code).Increment();
  } else if (method == kMethodNames[kGetModelInfo]) {
    RequestCounter(kGetModelInfo, code).Increment();
  }
}

void RerankMetrics::OnReloadDone(const absl::StatusOr<ReloadResult>& result) {
  reloads_family_
      ->Add({{"outcome", absl::StatusCodeToString(result.status().code())}})
      .Increment();
  if (!result.ok()) return;
  const ModelSnapshot& model = *result->model;
  std::lock_guard<std::mutex> lock(model_mu_);
  if (model_info_ != nullptr) model_info_family_->Remove(model_info_);
  model_info_ = &model_info_family_->Add({{"version", model.version()}});
  model_info_->Set(1);
  model_loaded_->Set(1);
  model_loaded_timestamp_->Set(
      static_cast<double>(model.metadata().loaded_at_ms) / 1000.0);
  model_load_duration_->Set(result->load_seconds);
  model_warmup_duration_->Set(result->warmup_seconds);
  model_warmup_requests_->Set(result->warmup_requests);
}

std::shared_ptr<prometheus::Collectable> RerankMetrics::histograms() const {
  return histograms_;
}

void RerankMetrics::AddGaugeSource(std::string name, std::string help,
                                   std::function<double()> source) {
  histograms_->AddGaugeSource(std::move(name), std::move(help),
                              std::move(source));
}

std::string RerankMetrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& f : histograms_->Collect()) {
    families.push_back(std::move(f));
  }
  return prometheus::TextSerializer().Serialize(families);
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Create(
    const std::string& address, const RerankMetrics& metrics) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  try {
    // One thread: scrapes are rare and must never compete with serving.
    endpoint->exposer_ =
        std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    // civetweb reports a failed bind (port in use, address not local) as
    // an exception from the constructor.
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", address,
        " (metrics_listen_address): address in use or not local? (", e.what(),
        ")"));
  }
  endpoint->exposer_->RegisterCollectable(metrics.registry());
  endpoint->exposer_->RegisterCollectable(metrics.histograms());
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address,
                                               " (metrics_listen_address)"));
  }
  endpoint->port_ = ports.front();
  std::string host;
  int unused = 0;
  if (ParseHostPort(address, &host, &unused).ok()) {
    // A wildcard listener is reachable on loopback.
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    endpoint->host_ = host;
  }
  return endpoint;
}

MetricsEndpoint::~MetricsEndpoint() {
  if (exposer_ == nullptr) return;
  // civetweb's accept loop polls its listener in 2 s quanta and checks for
  // "stop" only between them, so a plain stop takes up to 2 s. Connecting
  // wakes the poll; keep poking (every 20 ms) until the stop has returned,
  // because a poke that lands before the stop flag is set is wasted.
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  std::thread poker([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopped) {
      lock.unlock();
      Poke(host_, port_);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(20),
                  [&stopped] { return stopped; });
    }
  });
  exposer_.reset();
  {
    std::lock_guard<std::mutex> lock(mu);
    stopped = true;
  }
  cv.notify_one();
  poker.join();
}

}  // namespace rerank
