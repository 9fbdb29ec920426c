#pragma once
// What /imagine needs besides the worker's shared parts, built from [imagine]: an outbound
// client of its own for the providers' APIs (so that a slow provider never queues behind
// Discord's calls), a fetcher on the [fetch] policy for what providers name (fal's webhook
// keys), the configured models' providers, and the job store ([imagine] database, SQLite by
// default; the shared [database] when [queue] backend = "postgres").
//
// Opened by the processes that run /imagine (ingress: quotas, webhooks, Cancel; workers of the
// imagine and imagine-events queues) when at least one model is configured. Destroy it before
// the io_context.

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "core/config.hpp"
#include "imagine/job_store.hpp"
#include "imagine/providers.hpp"
#include "net/fetcher.hpp"
#include "net/http_client.hpp"
#include "net/resolver.hpp"

namespace mando::app {

class ImagineService {
 public:
  // Errors: a model that cannot run (Providers::create), a database that cannot be opened.
  static Result<std::unique_ptr<ImagineService>> open(const core::Config& config,
                                                      boost::asio::any_io_executor executor);

  imagine::Providers& providers() { return *providers_; }
  imagine::JobStore& store() { return *store_; }
  // The job store the configuration names.
  static Result<std::unique_ptr<imagine::JobStore>> open_job_store(const core::Config& config);

 private:
  ImagineService(boost::asio::any_io_executor executor, net::UrlPolicy policy)
      : http_(std::move(executor)), fetcher_(http_, std::move(policy), resolver_) {}

  net::HttpClient http_;
  net::SystemResolver resolver_;
  net::Fetcher fetcher_;
  std::unique_ptr<imagine::Providers> providers_;
  std::unique_ptr<imagine::JobStore> store_;
};

}  // namespace mando::app
